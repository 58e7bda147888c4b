#ifndef _ASM_X86_PROCESSOR_FLAGS_H
#define _ASM_X86_PROCESSOR_FLAGS_H

/* EFLAGS bits. */
#define X86_EFLAGS_CF	0x00000001	/* carry */
#define X86_EFLAGS_BIT1	0x00000002	/* always 1 */
#define X86_EFLAGS_PF	0x00000004	/* parity */
#define X86_EFLAGS_ZF	0x00000040	/* zero */
#define X86_EFLAGS_SF	0x00000080	/* sign */
#define X86_EFLAGS_TF	0x00000100	/* trap (single step) */
#define X86_EFLAGS_IF	0x00000200	/* interrupts enabled */
#define X86_EFLAGS_DF	0x00000400	/* direction */

/* CR0 bits. */
#define X86_CR0_PE	0x00000001	/* protected mode */
#define X86_CR0_WP	0x00010000	/* ring 0 honours read-only pages */
#define X86_CR0_PG	0x80000000	/* paging */

#endif
