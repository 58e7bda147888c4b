/*
 * page_alloc.c - the physical page allocator.
 *
 * A bitmap with one bit per 4 KiB page frame below MAXMEM: set = in use
 * (or not RAM, or part of the kernel image).  __get_free_pages(order)
 * finds 2^order free frames, naturally aligned (so an order-1 block, a
 * thread_union, is 8 KiB-aligned), first fit from the bottom.  Slow but
 * obviously correct, and deterministic: the same requests always get the
 * same addresses.
 *
 * Callers must not sleep-wait on it; it never sleeps.  It takes its lock
 * with interrupts off, so it may be called from anywhere, on any CPU.
 */
#include <linux/kernel.h>
#include <linux/gfp.h>
#include <linux/string.h>
#include <asm/page.h>
#include <linux/spinlock.h>

#define BITS_PER_LONG	32

static unsigned long page_bitmap[MAXMEM_PFN / BITS_PER_LONG];
static unsigned long first_pfn, last_pfn;	/* managed: [first, last) */
static unsigned long free_count;

/* Guards the bitmap and free_count, from any CPU and interrupt handlers. */
static DEFINE_SPINLOCK(page_alloc_lock);

static int pfn_used(unsigned long pfn)
{
	return page_bitmap[pfn / BITS_PER_LONG] & (1UL << (pfn % BITS_PER_LONG));
}

static void set_used(unsigned long pfn, int used)
{
	if (used)
		page_bitmap[pfn / BITS_PER_LONG] |= 1UL << (pfn % BITS_PER_LONG);
	else
		page_bitmap[pfn / BITS_PER_LONG] &= ~(1UL << (pfn % BITS_PER_LONG));
}

/*
 * mem_init - hand the frames [start_pfn, end_pfn) to the allocator.
 * Everything else (low memory, the kernel image) stays marked in use.
 */
void mem_init(unsigned long start_pfn, unsigned long end_pfn)
{
	unsigned long pfn;

	memset(page_bitmap, 0xff, sizeof(page_bitmap));
	first_pfn = start_pfn;
	last_pfn = end_pfn;
	for (pfn = start_pfn; pfn < end_pfn; pfn++)
		set_used(pfn, 0);
	free_count = end_pfn - start_pfn;
}

/**
 * __get_free_pages - allocate 2^@order contiguous, aligned pages.
 * Returns their kernel virtual address, or 0 when memory is exhausted.
 */
unsigned long __get_free_pages(unsigned int order)
{
	unsigned long n = 1UL << order, pfn, i, flags;

	spin_lock_irqsave(&page_alloc_lock, flags);
	for (pfn = ALIGN_UP(first_pfn, n); pfn + n <= last_pfn; pfn += n) {
		for (i = 0; i < n; i++)
			if (pfn_used(pfn + i))
				break;
		if (i == n) {
			for (i = 0; i < n; i++)
				set_used(pfn + i, 1);
			free_count -= n;
			spin_unlock_irqrestore(&page_alloc_lock, flags);
			return (unsigned long) __va(pfn << PAGE_SHIFT);
		}
	}
	spin_unlock_irqrestore(&page_alloc_lock, flags);
	return 0;
}

/* free_pages - give back a block from __get_free_pages(@order). */
void free_pages(unsigned long addr, unsigned int order)
{
	unsigned long pfn = __pa(addr) >> PAGE_SHIFT, i, flags;

	spin_lock_irqsave(&page_alloc_lock, flags);
	for (i = 0; i < (1UL << order); i++) {
		BUG_ON(!pfn_used(pfn + i));
		set_used(pfn + i, 0);
	}
	free_count += 1UL << order;
	spin_unlock_irqrestore(&page_alloc_lock, flags);
}

unsigned long nr_free_pages(void)
{
	return free_count;
}
