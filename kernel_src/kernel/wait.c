/*
 * wait.c - wait queues (see include/linux/wait.h for the protocol).
 *
 * Every operation holds q->lock with interrupts off: wakeups may come
 * from interrupt handlers.
 */
#include <linux/sched.h>
#include <linux/wait.h>

void init_waitqueue_head(wait_queue_head_t *q)
{
	spin_lock_init(&q->lock);
	INIT_LIST_HEAD(&q->task_list);
}

void add_wait_queue(wait_queue_head_t *q, wait_queue_t *wait)
{
	unsigned long flags;

	wait->flags &= ~WQ_FLAG_EXCLUSIVE;
	spin_lock_irqsave(&q->lock, flags);
	list_add(&wait->task_list, &q->task_list);
	spin_unlock_irqrestore(&q->lock, flags);
}

/* Exclusive waiters go last; a wake_up() wakes at most one of them. */
void add_wait_queue_exclusive(wait_queue_head_t *q, wait_queue_t *wait)
{
	unsigned long flags;

	wait->flags |= WQ_FLAG_EXCLUSIVE;
	spin_lock_irqsave(&q->lock, flags);
	__add_wait_queue_tail(q, wait);
	spin_unlock_irqrestore(&q->lock, flags);
}

void remove_wait_queue(wait_queue_head_t *q, wait_queue_t *wait)
{
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	__remove_wait_queue(q, wait);
	spin_unlock_irqrestore(&q->lock, flags);
}

/**
 * prepare_to_wait - queue @wait on @q (if not queued) and set our state.
 * @state: TASK_INTERRUPTIBLE or TASK_UNINTERRUPTIBLE
 *
 * The state is set while the lock is held, so a waker that runs after we
 * drop it sees us queued and sleeping; one that runs before has already
 * made the condition true, which the caller tests next.
 */
void prepare_to_wait(wait_queue_head_t *q, wait_queue_t *wait, int state)
{
	unsigned long flags;

	wait->flags &= ~WQ_FLAG_EXCLUSIVE;
	spin_lock_irqsave(&q->lock, flags);
	if (list_empty(&wait->task_list))
		list_add(&wait->task_list, &q->task_list);
	set_current_state(state);
	spin_unlock_irqrestore(&q->lock, flags);
}

/* finish_wait - back to TASK_RUNNING, and off @q if still queued. */
void finish_wait(wait_queue_head_t *q, wait_queue_t *wait)
{
	unsigned long flags;

	__set_current_state(TASK_RUNNING);
	if (!list_empty(&wait->task_list)) {
		spin_lock_irqsave(&q->lock, flags);
		list_del_init(&wait->task_list);
		spin_unlock_irqrestore(&q->lock, flags);
	}
}

int default_wake_function(wait_queue_t *wait, unsigned mode)
{
	return wake_up_state(wait->task, mode);
}

/*
 * Wake every non-exclusive waiter and up to @nr_exclusive exclusive ones
 * (0 = all).  Waiters stay queued: each removes itself in finish_wait().
 */
static void __wake_up_common(wait_queue_head_t *q, unsigned int mode,
			     int nr_exclusive)
{
	wait_queue_t *curr, *next;

	list_for_each_entry_safe(curr, next, &q->task_list, task_list) {
		unsigned flags = curr->flags;

		if (curr->func(curr, mode) &&
		    (flags & WQ_FLAG_EXCLUSIVE) && !--nr_exclusive)
			break;
	}
}

/**
 * __wake_up - wake up tasks sleeping on @q.
 * @mode: which sleep states to wake (TASK_NORMAL: both)
 * @nr_exclusive: how many exclusive waiters to wake; 0 for all
 */
void __wake_up(wait_queue_head_t *q, unsigned int mode, int nr_exclusive)
{
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	__wake_up_common(q, mode, nr_exclusive);
	spin_unlock_irqrestore(&q->lock, flags);
}

/* __wake_up_locked - the same, for callers that hold q->lock. */
void __wake_up_locked(wait_queue_head_t *q, unsigned int mode, int nr_exclusive)
{
	__wake_up_common(q, mode, nr_exclusive);
}
