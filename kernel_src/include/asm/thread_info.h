#ifndef _ASM_X86_THREAD_INFO_H
#define _ASM_X86_THREAD_INFO_H

/*
 * Every task owns an 8 KiB, 8 KiB-aligned kernel stack (a thread_union).
 * The stack grows down from the top; the topmost struct pt_regs holds the
 * registers a new task starts with (see copy_thread()).
 */
#define THREAD_ORDER	1
#define THREAD_SIZE	8192

#ifndef __ASSEMBLY__
union thread_union {
	unsigned long stack[THREAD_SIZE / sizeof(long)];
};

extern union thread_union init_thread_union;
#endif

#endif
