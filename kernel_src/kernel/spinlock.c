/*
 * kernel/spinlock.c - the out-of-line spinlock operations.
 *
 * Uniprocessor: taking a lock disables preemption and marks the lock held
 * (see include/linux/spinlock.h for why these are real calls).
 */
#include <linux/spinlock.h>

void _spin_lock(spinlock_t *lock)
{
	preempt_disable();
	lock->locked = 1;
	barrier();
}

void _spin_unlock(spinlock_t *lock)
{
	barrier();
	lock->locked = 0;
	preempt_enable();
}
