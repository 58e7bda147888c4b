#ifndef _ASM_X86_PROCESSOR_H
#define _ASM_X86_PROCESSOR_H

#include <asm/processor-flags.h>

/*
 * struct thread_struct - the CPU state of a task that is not running.
 * @sp: kernel stack pointer saved by switch_to()
 * @ip: where switch_to() resumes the task (label 1: in switch_to, or
 *      ret_from_fork for a task that never ran)
 *
 * Everything else (callee-saved registers, flags) is on the task's own
 * stack, below @sp.
 */
struct thread_struct {
	unsigned long sp;
	unsigned long ip;
};

/* cpu_relax - in a spin-wait loop: `pause` (see asm/spinlock.h). */
static inline void cpu_relax(void)
{
	__asm__ __volatile__("pause" : : : "memory");
}

static inline unsigned long read_cr0(void)
{
	unsigned long v;
	__asm__ __volatile__("movl %%cr0, %0" : "=r"(v));
	return v;
}

static inline unsigned long read_cr2(void)
{
	unsigned long v;
	__asm__ __volatile__("movl %%cr2, %0" : "=r"(v));
	return v;
}

static inline unsigned long read_cr3(void)
{
	unsigned long v;
	__asm__ __volatile__("movl %%cr3, %0" : "=r"(v));
	return v;
}

static inline void write_cr3(unsigned long v)
{
	__asm__ __volatile__("movl %0, %%cr3" : : "r"(v) : "memory");
}

#endif
