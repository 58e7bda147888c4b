#ifndef _ASM_X86_SPINLOCK_H
#define _ASM_X86_SPINLOCK_H

/*
 * The x86 lock word: 0 free, 1 held.  No preemption or interrupt
 * bookkeeping here (see linux/spinlock.h for that).
 *
 * __raw_spin_lock: test-and-set with a `lock`-prefixed bts, which reads,
 * sets and writes bit 0 as one bus transaction, so of two CPUs racing
 * for a free lock exactly one sees the old 0 (CF clear) and owns it.  The
 * loser spins *reading* the word (no locked writes while it waits, so the
 * holder's cache line is left alone) with `pause`, which tells the CPU,
 * and our machine, that this is a spin-wait, until the word reads 0, then
 * tries the bts again.
 *
 * __raw_spin_unlock: a plain store of 0.  x86 keeps stores in order, so
 * every write made while holding the lock is visible before the lock
 * reads free; the "memory" clobber keeps the compiler from sinking them.
 */
static inline void __raw_spin_lock(volatile unsigned int *lock)
{
	__asm__ __volatile__(
		"1:	lock; btsl $0, %0\n\t"
		"	jnc 3f\n"
		"2:	pause\n\t"
		"	testl $1, %0\n\t"
		"	jnz 2b\n\t"
		"	jmp 1b\n"
		"3:"
		: "+m"(*lock) : : "memory", "cc");
}

static inline void __raw_spin_unlock(volatile unsigned int *lock)
{
	__asm__ __volatile__("movl $0, %0" : "=m"(*lock) : : "memory");
}

#endif
