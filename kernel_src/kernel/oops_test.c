/*
 * oops_test.c - deliberately crash, to test exception delivery.
 *
 * Booted with "oops=<kind>" on the command line, init calls oops_test()
 * after "init: boot complete" and the kernel raises one exception:
 *
 *   oops=de   divide by zero             vector 0, no error code
 *   oops=ud   ud2                        vector 6, no error code
 *   oops=gp   load a selector past the GDT limit
 *                                        vector 13, error code = selector
 *   oops=pf   write through a NULL pointer
 *                                        vector 14, error code 2, cr2 = 0
 *   oops=so   stack overflow: recurse on a small stack whose lowest page
 *             is a guard page (unmapped)  vector 14, error code 2, cr2 in
 *             the guard page; the CPU cannot push the #PF frame onto the
 *             same stack, nor the #DF frame: a triple fault (i386 Linux
 *             avoids that with a #DF task gate, which we do not model)
 *   oops=tf   triple fault: load an IDT that is not mapped, then ud2
 *
 * do_trap() prints the oops and halts the machine.  Meant for tests of the
 * emulated machine (IDT delivery, error codes, cr2), of the debugger's
 * view of faults, and for students to see what an oops looks like.
 */
#include <linux/kernel.h>
#include <linux/string.h>
#include <asm/setup.h>
#include <asm/page.h>
#include <asm/pgtable.h>

static volatile unsigned int zero;

/* oops=so: page 0 is the guard page, pages 1-2 the stack. */
#define SO_PAGES	3
static unsigned long so_stack[SO_PAGES * 1024] __attribute__((aligned(4096)));

/* Each call pushes a return address, %ebp and a 64-byte frame. */
int oops_recurse(int depth);
noinline int oops_recurse(int depth)
{
	volatile char frame[64];

	if (depth < 0)		/* never: only keeps gcc from warning */
		return 0;
	frame[0] = depth;
	return oops_recurse(depth + 1) + frame[0];
}

/* Unmap the page at kernel virtual address @va (pg0 maps all of RAM). */
static void unmap_kernel_page(unsigned long va)
{
	pg0[(va - PAGE_OFFSET) >> 12] &= ~_PAGE_PRESENT;
	__asm__ __volatile__("invlpg (%0)" : : "r"(va) : "memory");
}

static void stack_overflow(void)
{
	unmap_kernel_page((unsigned long) so_stack);
	__asm__ __volatile__("movl %0, %%esp\n\t"
			     "xorl %%eax, %%eax\n\t"
			     "call oops_recurse"
			     : : "r"(so_stack + SO_PAGES * 1024) : "memory");
}

static void triple_fault(void)
{
	/* An IDT at the top of the address space, which nothing maps. */
	static struct { unsigned short limit; unsigned long base; }
		__attribute__((packed)) bad_idt = { 0x7ff, 0xfffff000 };

	__asm__ __volatile__("lidt %0\n\tud2" : : "m"(bad_idt));
}

void oops_test(void)
{
	const char *kind = cmdline_get("oops");

	if (!kind)
		return;
	printk("oops_test: raising %.2s\n", kind);
	if (!strncmp(kind, "de", 2)) {
		unsigned int q, r;

		/* asm, since gcc rewrites 1 / x without a division */
		__asm__ __volatile__("divl %2"
				     : "=a"(q), "=d"(r)
				     : "rm"(zero), "0"(1), "1"(0));
	} else if (!strncmp(kind, "ud", 2)) {
		__asm__ __volatile__("ud2");
	} else if (!strncmp(kind, "gp", 2)) {
		__asm__ __volatile__("movl %0, %%fs" : : "r"(0x1f8));	/* index 63 */
	} else if (!strncmp(kind, "pf", 2)) {
		*(volatile int *) 0 = 1;
	} else if (!strncmp(kind, "so", 2)) {
		stack_overflow();
	} else if (!strncmp(kind, "tf", 2)) {
		triple_fault();
	}
	printk("oops_test: unknown kind \"%s\"\n", kind);
}
