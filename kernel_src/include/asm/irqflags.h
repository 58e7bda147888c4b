#ifndef _ASM_X86_IRQFLAGS_H
#define _ASM_X86_IRQFLAGS_H

#include <asm/processor-flags.h>

/*
 * The interrupt flag.  On a uniprocessor, "interrupts off" is the only
 * mutual exclusion that matters against interrupt handlers.
 */

static inline unsigned long native_save_fl(void)
{
	unsigned long flags;

	__asm__ __volatile__("pushfl ; popl %0" : "=rm"(flags) : : "memory");
	return flags;
}

static inline void native_restore_fl(unsigned long flags)
{
	__asm__ __volatile__("pushl %0 ; popfl" : : "g"(flags) : "memory", "cc");
}

static inline void local_irq_disable(void)
{
	__asm__ __volatile__("cli" : : : "memory");
}

static inline void local_irq_enable(void)
{
	__asm__ __volatile__("sti" : : : "memory");
}

/*
 * safe_halt - enable interrupts and halt, atomically.  `sti` takes effect
 * after the next instruction, so no interrupt can slip in between the test
 * the caller made with interrupts off and the `hlt`: the wakeup interrupt
 * ends the hlt instead of being lost.
 */
static inline void safe_halt(void)
{
	__asm__ __volatile__("sti; hlt" : : : "memory");
}

static inline void halt(void)
{
	__asm__ __volatile__("hlt" : : : "memory");
}

#define local_save_flags(flags)	((flags) = native_save_fl())
#define local_irq_save(flags)	do { (flags) = native_save_fl(); local_irq_disable(); } while (0)
#define local_irq_restore(flags) native_restore_fl(flags)
#define irqs_disabled()		(!(native_save_fl() & X86_EFLAGS_IF))

#endif
