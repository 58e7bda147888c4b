/*
 * completion.c - wait for "it happened" events.
 *
 * x->done counts complete() calls not yet consumed.  A waiter sleeps on
 * x->wait while done is 0 and consumes one count when it wakes, so each
 * complete() releases exactly one wait_for_completion(), whichever comes
 * first.  All accesses hold x->wait.lock with interrupts off.
 */
#include <linux/sched.h>
#include <linux/completion.h>

/**
 * init_completion - prepare @x for use; nothing has happened yet.
 */
void init_completion(struct completion *x)
{
	x->done = 0;
	init_waitqueue_head(&x->wait);
}

/**
 * complete - signal @x: release one waiter, now or in the future.
 *
 * May be called from interrupt handlers.  In this kernel (no preemption)
 * the woken waiter runs when the caller next schedules.
 */
void complete(struct completion *x)
{
	unsigned long flags;

	spin_lock_irqsave(&x->wait.lock, flags);
	x->done++;
	__wake_up_locked(&x->wait, TASK_NORMAL, 1);
	spin_unlock_irqrestore(&x->wait.lock, flags);
}

/**
 * complete_all - signal @x for every current and future waiter.
 */
void complete_all(struct completion *x)
{
	unsigned long flags;

	spin_lock_irqsave(&x->wait.lock, flags);
	x->done += 0x40000000;
	__wake_up_locked(&x->wait, TASK_NORMAL, 0);
	spin_unlock_irqrestore(&x->wait.lock, flags);
}

/**
 * wait_for_completion - sleep (uninterruptibly) until @x is completed.
 *
 * Returns at once if a complete() is already pending.  The lock is
 * dropped around schedule() but the state is set before, under the lock,
 * so a complete() in between is not lost.
 */
void wait_for_completion(struct completion *x)
{
	spin_lock_irq(&x->wait.lock);
	if (!x->done) {
		DEFINE_WAIT(wait);

		wait.flags |= WQ_FLAG_EXCLUSIVE;
		__add_wait_queue_tail(&x->wait, &wait);
		do {
			__set_current_state(TASK_UNINTERRUPTIBLE);
			spin_unlock_irq(&x->wait.lock);
			schedule();
			spin_lock_irq(&x->wait.lock);
		} while (!x->done);
		__remove_wait_queue(&x->wait, &wait);
	}
	x->done--;
	spin_unlock_irq(&x->wait.lock);
}
