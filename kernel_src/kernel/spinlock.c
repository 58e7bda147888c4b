/*
 * kernel/spinlock.c - the out-of-line spinlock operations.
 *
 * Taking a lock disables preemption, then spins for the lock word (see
 * include/linux/spinlock.h for why these are real calls).
 */
#include <linux/spinlock.h>

void _spin_lock(spinlock_t *lock)
{
	preempt_disable();
	__raw_spin_lock(&lock->locked);
}

void _spin_unlock(spinlock_t *lock)
{
	__raw_spin_unlock(&lock->locked);
	preempt_enable();
}
