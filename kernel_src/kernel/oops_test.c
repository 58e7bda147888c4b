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
 *
 * do_trap() prints the oops and halts the machine.  Meant for tests of the
 * emulated machine (IDT delivery, error codes, cr2), and for students to
 * see what an oops looks like.
 */
#include <linux/kernel.h>
#include <linux/string.h>
#include <asm/setup.h>

static volatile unsigned int zero;

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
	}
	printk("oops_test: unknown kind \"%s\"\n", kind);
}
