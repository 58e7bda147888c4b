/*
 * slab.c - kmalloc(), a size-class allocator on top of whole pages.
 *
 * Sizes 16, 32, ..., 2048 bytes each have a free list.  An empty list is
 * refilled by cutting one fresh page into objects of that size.  The
 * page's size class is remembered in page_class[] (indexed by frame
 * number) so that kfree() needs only the pointer.  Requests above 2048
 * bytes get whole pages (class KMALLOC_PAGES + order).
 *
 * Invariant: every object on free_list[c] lies in a page whose
 * page_class is c, and no object is on a list while in use.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/gfp.h>
#include <linux/string.h>
#include <asm/page.h>
#include <linux/spinlock.h>

#define KMALLOC_MIN_SHIFT	4		/* 16 bytes */
#define KMALLOC_CLASSES		8		/* 16 .. 2048 */
#define KMALLOC_PAGES		16		/* class 16 + order: page blocks */

struct free_object {
	struct free_object *next;
};

static struct free_object *free_list[KMALLOC_CLASSES];
static unsigned char page_class[MAXMEM_PFN];

/* Guards the free lists, from any CPU and interrupt handlers. */
static DEFINE_SPINLOCK(slab_lock);

static unsigned int size_class(size_t size)
{
	unsigned int c = 0;

	while ((1u << (c + KMALLOC_MIN_SHIFT)) < size)
		c++;
	return c;
}

static int refill(unsigned int c)
{
	unsigned long page = __get_free_page(), off;
	size_t sz = 1u << (c + KMALLOC_MIN_SHIFT);

	if (!page)
		return -1;
	page_class[__pa(page) >> PAGE_SHIFT] = c;
	for (off = 0; off + sz <= PAGE_SIZE; off += sz) {
		struct free_object *o = (struct free_object *)(page + off);

		o->next = free_list[c];
		free_list[c] = o;
	}
	return 0;
}

/**
 * kmalloc - allocate @size bytes (not zeroed).  Never sleeps.
 * Returns NULL when memory is exhausted.
 */
void *kmalloc(size_t size)
{
	unsigned int c = size_class(size);
	struct free_object *o = NULL;
	unsigned long flags;

	if (c >= KMALLOC_CLASSES) {
		unsigned int order = 0;
		unsigned long p;

		while ((PAGE_SIZE << order) < size)
			order++;
		p = __get_free_pages(order);
		if (p)
			page_class[__pa(p) >> PAGE_SHIFT] = KMALLOC_PAGES + order;
		return (void *) p;
	}

	spin_lock_irqsave(&slab_lock, flags);
	if (free_list[c] || refill(c) == 0) {
		o = free_list[c];
		free_list[c] = o->next;
	}
	spin_unlock_irqrestore(&slab_lock, flags);
	return o;
}

void *kzalloc(size_t size)
{
	void *p = kmalloc(size);

	if (p)
		memset(p, 0, size);
	return p;
}

/* kfree - release memory from kmalloc(); kfree(NULL) does nothing. */
void kfree(const void *p)
{
	unsigned int c;
	unsigned long flags;
	struct free_object *o = (struct free_object *) p;

	if (!p)
		return;
	c = page_class[__pa(p) >> PAGE_SHIFT];
	if (c >= KMALLOC_PAGES) {
		free_pages((unsigned long) p, c - KMALLOC_PAGES);
		return;
	}
	spin_lock_irqsave(&slab_lock, flags);
	o->next = free_list[c];
	free_list[c] = o;
	spin_unlock_irqrestore(&slab_lock, flags);
}
