#ifndef _ASM_X86_SYSTEM_H
#define _ASM_X86_SYSTEM_H

#include <linux/compiler.h>

struct task_struct;

struct task_struct *__switch_to(struct task_struct *prev,
				struct task_struct *next);

/*
 * switch_to(prev, next, last) - leave @prev, resume @next.
 *
 * The only place a task stops running.  We save flags and ebp on prev's
 * stack, park prev's stack pointer and a resume address in prev->thread,
 * load next's stack pointer, push next's resume address and jump to the C
 * helper __switch_to(), whose `ret` therefore "returns" into next:
 *
 *   - to label 1 below, if next last left the CPU through switch_to, which
 *     pops ebp and flags that next saved, or
 *   - to ret_from_fork, if next is a new task (copy_thread set its ip).
 *
 * The asm clobbers every other register, so gcc saves what it needs around
 * it.  When prev is resumed later, some other task ran meanwhile; __switch_to
 * returns the task we came from in eax and it lands in @last, so that
 * schedule() knows whom it switched away from.
 */
#define switch_to(prev, next, last)					\
do {									\
	unsigned long ebx, ecx, edx, esi, edi;				\
									\
	__asm__ __volatile__(						\
		"pushfl\n\t"			/* save flags */	\
		"pushl %%ebp\n\t"		/* save frame ptr */	\
		"movl %%esp, %[prev_sp]\n\t"	/* park prev's stack */	\
		"movl %[next_sp], %%esp\n\t"	/* take next's stack */	\
		"movl $1f, %[prev_ip]\n\t"	/* prev resumes at 1: */\
		"pushl %[next_ip]\n\t"		/* __switch_to returns there */ \
		"jmp __switch_to\n"					\
		"1:\t"							\
		"popl %%ebp\n\t"					\
		"popfl\n"						\
		: [prev_sp] "=m"(prev->thread.sp),			\
		  [prev_ip] "=m"(prev->thread.ip),			\
		  "=a"(last), "=b"(ebx), "=c"(ecx), "=d"(edx),		\
		  "=S"(esi), "=D"(edi)					\
		: [next_sp] "m"(next->thread.sp),			\
		  [next_ip] "m"(next->thread.ip),			\
		  "a"(prev), "d"(next)					\
		: "memory");						\
} while (0)

#endif
