#ifndef _ASM_X86_ATOMIC_H
#define _ASM_X86_ATOMIC_H

#include <linux/types.h>

/*
 * atomic_t operations that other CPUs cannot interleave with: each is a
 * single `lock`-prefixed read-modify-write.
 */
static inline void atomic_inc(atomic_t *v)
{
	__asm__ __volatile__("lock; incl %0" : "+m"(v->counter) : : "memory");
}

/* Decrement; true if the result is 0 (the caller held the last count). */
static inline int atomic_dec_and_test(atomic_t *v)
{
	unsigned char zero;

	__asm__ __volatile__("lock; decl %0\n\tsete %1"
			     : "+m"(v->counter), "=qm"(zero) : : "memory");
	return zero;
}

#endif
