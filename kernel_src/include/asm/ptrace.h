#ifndef _ASM_X86_PTRACE_H
#define _ASM_X86_PTRACE_H

/*
 * struct pt_regs - the register frame on the kernel stack.
 *
 * Built by SAVE_ALL in entry_32.S on top of what the CPU pushed when it
 * entered the kernel, consumed by RESTORE_ALL + iret.  Field order is the
 * reverse of the push order: bx was pushed last, so it is at the lowest
 * address.  The PT_* offsets in entry_32.S must match this layout.
 *
 *   offset  field    pushed by
 *     0      bx      SAVE_ALL
 *     4      cx      SAVE_ALL
 *     8      dx      SAVE_ALL
 *    12      si      SAVE_ALL
 *    16      di      SAVE_ALL
 *    20      bp      SAVE_ALL
 *    24      ax      SAVE_ALL
 *    28      ds      SAVE_ALL
 *    32      es      SAVE_ALL
 *    36      fs      SAVE_ALL
 *    40      gs      SAVE_ALL
 *    44      orig_ax entry stub (error code, ~vector, or -1)
 *    48      ip      CPU
 *    52      cs      CPU
 *    56      flags   CPU
 *    60      sp      CPU, only on a ring 3 -> ring 0 entry
 *    64      ss      CPU, only on a ring 3 -> ring 0 entry
 */
#define PT_EBX		0
#define PT_ECX		4
#define PT_EDX		8
#define PT_ESI		12
#define PT_EDI		16
#define PT_EBP		20
#define PT_EAX		24
#define PT_DS		28
#define PT_ES		32
#define PT_FS		36
#define PT_GS		40
#define PT_ORIG_EAX	44
#define PT_EIP		48
#define PT_CS		52
#define PT_EFLAGS	56
#define PT_OLDESP	60
#define PT_OLDSS	64

#ifndef __ASSEMBLY__
struct pt_regs {
	unsigned long bx;
	unsigned long cx;
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	unsigned long bp;
	unsigned long ax;
	unsigned long ds;
	unsigned long es;
	unsigned long fs;
	unsigned long gs;
	unsigned long orig_ax;
	unsigned long ip;
	unsigned long cs;
	unsigned long flags;
	unsigned long sp;
	unsigned long ss;
};
#endif

#endif
