#ifndef _ASM_X86_SEGMENT_H
#define _ASM_X86_SEGMENT_H

/*
 * The GDT layout, with the selector values of Linux i386.
 *
 * A selector is (index << 3) | TI | RPL.  We use the same slots Linux does so
 * that a reader comparing pt_regs dumps with a real kernel sees the same
 * numbers:
 *
 *   index  selector  use
 *    12     0x60     __KERNEL_CS     ring 0 code, base 0, limit 4 GiB
 *    13     0x68     __KERNEL_DS     ring 0 data
 *    14     0x73     __USER_CS       ring 3 code (unused: no user mode yet)
 *    15     0x7b     __USER_DS       ring 3 data; Linux keeps ds/es at this
 *                                    value even in the kernel, so do we
 *    27     0xd8     __KERNEL_PERCPU per-cpu data segment (base 0 on UP)
 *    28     0xe0     stack-canary slot (unused: no -fstack-protector)
 *
 * Every segment is flat (base 0, limit 4 GiB): addressing is done entirely
 * by paging.  The other slots are null descriptors.
 */
#define GDT_ENTRY_KERNEL_CS		12
#define GDT_ENTRY_KERNEL_DS		13
#define GDT_ENTRY_DEFAULT_USER_CS	14
#define GDT_ENTRY_DEFAULT_USER_DS	15
#define GDT_ENTRY_PERCPU		27
#define GDT_ENTRY_STACK_CANARY		28
#define GDT_ENTRIES			32

#define __KERNEL_CS	(GDT_ENTRY_KERNEL_CS * 8)		/* 0x60 */
#define __KERNEL_DS	(GDT_ENTRY_KERNEL_DS * 8)		/* 0x68 */
#define __USER_CS	(GDT_ENTRY_DEFAULT_USER_CS * 8 + 3)	/* 0x73 */
#define __USER_DS	(GDT_ENTRY_DEFAULT_USER_DS * 8 + 3)	/* 0x7b */
#define __KERNEL_PERCPU	(GDT_ENTRY_PERCPU * 8)			/* 0xd8 */

/*
 * Without a stack protector gs holds the null selector, as on a Linux
 * kernel built without CONFIG_CC_STACKPROTECTOR.
 */
#define __KERNEL_STACK_CANARY	0

#ifndef __ASSEMBLY__
/* Kernel code runs at ring 0; no paravirt, so the RPL we add is 0. */
static inline unsigned int get_kernel_rpl(void)
{
	return 0;
}
#endif

#endif
