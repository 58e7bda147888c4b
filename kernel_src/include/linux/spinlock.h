#ifndef _LINUX_SPINLOCK_H
#define _LINUX_SPINLOCK_H

#include <linux/compiler.h>
#include <asm/irqflags.h>
#include <asm/spinlock.h>

/*
 * Spinlocks.
 *
 * A lock guards data that more than one CPU (or a task and an interrupt
 * handler) touch.  spin_lock() spins until the lock is free, then owns it
 * (the atomic test-and-set is in asm/spinlock.h); spin_unlock() frees it.
 *
 *   spin_lock()           also disables preemption: the holder must not
 *                         sleep, and schedule() checks preempt_count to
 *                         catch one that does.  (Our scheduler is not
 *                         preemptive anyway: tasks switch only inside
 *                         schedule().)
 *   spin_lock_irqsave()   also saves EFLAGS and disables interrupts on
 *                         this CPU, for data an interrupt handler takes
 *                         the same lock for: otherwise the handler could
 *                         spin forever on a lock its own CPU holds.
 *   raw_spin_lock()       the lock alone, no preemption count: for the
 *                         run queues, whose lock is taken by one task in
 *                         schedule() and released by the next one.
 *
 * @locked is the lock word (1 = held): `print kthread_create_lock` in gdb
 * shows whether it is held.
 *
 * spin_lock()/spin_unlock() call out-of-line _spin_lock()/_spin_unlock()
 * (kernel/spinlock.c), as a Linux SMP or CONFIG_DEBUG_SPINLOCK build does:
 * an inline body would be attributed to this header's lines, leaving a
 * `spin_lock(...)` source line with no code of its own, so that
 * `break kernel/kthread.c:<line>` would land in another function.
 */
typedef struct {
	volatile unsigned int locked;
} spinlock_t;

#define __SPIN_LOCK_UNLOCKED(name)	{ .locked = 0 }
#define DEFINE_SPINLOCK(x)	spinlock_t x = __SPIN_LOCK_UNLOCKED(x)

static inline void spin_lock_init(spinlock_t *lock)
{
	lock->locked = 0;
}

/* Preemption-disable depth of the running task (see kernel/sched.c). */
void add_preempt_count(int val);
void sub_preempt_count(int val);
#define preempt_disable()	add_preempt_count(1)
#define preempt_enable()	sub_preempt_count(1)

void _spin_lock(spinlock_t *lock);
void _spin_unlock(spinlock_t *lock);
#define spin_lock(lock)		_spin_lock(lock)
#define spin_unlock(lock)	_spin_unlock(lock)

#define raw_spin_lock(lock)	__raw_spin_lock(&(lock)->locked)
#define raw_spin_unlock(lock)	__raw_spin_unlock(&(lock)->locked)

#define spin_lock_irqsave(lock, flags)			\
	do {						\
		local_irq_save(flags);			\
		spin_lock(lock);			\
	} while (0)

#define spin_unlock_irqrestore(lock, flags)		\
	do {						\
		spin_unlock(lock);			\
		local_irq_restore(flags);		\
	} while (0)

static inline void spin_lock_irq(spinlock_t *lock)
{
	local_irq_disable();
	spin_lock(lock);
}

static inline void spin_unlock_irq(spinlock_t *lock)
{
	spin_unlock(lock);
	local_irq_enable();
}

#endif
