#ifndef _LINUX_WAIT_H
#define _LINUX_WAIT_H

#include <linux/list.h>
#include <linux/spinlock.h>

/*
 * Wait queues: a list of sleeping tasks waiting for a condition.
 *
 * The sleeper's protocol (what wait_event() expands to):
 *   1. prepare_to_wait(): queue yourself and set your state to sleeping,
 *   2. test the condition; if true, finish_wait() and stop,
 *   3. schedule(), then loop to 1.
 * The waker makes the condition true first, then calls wake_up().  Because
 * the sleeper's state is set before it tests, a wake_up() that races with
 * the test turns the state back to TASK_RUNNING and schedule() returns at
 * once: no wakeup is lost.
 */
struct __wait_queue;
typedef int (*wait_queue_func_t)(struct __wait_queue *wait, unsigned mode);

#define WQ_FLAG_EXCLUSIVE	0x01

typedef struct __wait_queue {
	unsigned int flags;
	struct task_struct *task;
	wait_queue_func_t func;
	struct list_head task_list;
} wait_queue_t;

typedef struct __wait_queue_head {
	spinlock_t lock;
	struct list_head task_list;
} wait_queue_head_t;

#define __WAIT_QUEUE_HEAD_INITIALIZER(name) {				\
	.lock = __SPIN_LOCK_UNLOCKED(name.lock),			\
	.task_list = { &(name).task_list, &(name).task_list } }

#define DECLARE_WAIT_QUEUE_HEAD(name) \
	wait_queue_head_t name = __WAIT_QUEUE_HEAD_INITIALIZER(name)

int default_wake_function(wait_queue_t *wait, unsigned mode);

#define DEFINE_WAIT(name)						\
	wait_queue_t name = {						\
		.task = current,					\
		.func = default_wake_function,				\
		.task_list = LIST_HEAD_INIT((name).task_list),		\
	}

void init_waitqueue_head(wait_queue_head_t *q);
void add_wait_queue(wait_queue_head_t *q, wait_queue_t *wait);
void add_wait_queue_exclusive(wait_queue_head_t *q, wait_queue_t *wait);
void remove_wait_queue(wait_queue_head_t *q, wait_queue_t *wait);
void prepare_to_wait(wait_queue_head_t *q, wait_queue_t *wait, int state);
void finish_wait(wait_queue_head_t *q, wait_queue_t *wait);
void __wake_up(wait_queue_head_t *q, unsigned int mode, int nr_exclusive);
void __wake_up_locked(wait_queue_head_t *q, unsigned int mode, int nr_exclusive);

/* Queue manipulation for callers that already hold q->lock. */
static inline void __add_wait_queue_tail(wait_queue_head_t *q, wait_queue_t *wait)
{
	list_add_tail(&wait->task_list, &q->task_list);
}

static inline void __remove_wait_queue(wait_queue_head_t *q, wait_queue_t *wait)
{
	list_del_init(&wait->task_list);
}

#define wake_up(q)		__wake_up(q, TASK_NORMAL, 1)
#define wake_up_all(q)		__wake_up(q, TASK_NORMAL, 0)
#define wake_up_interruptible(q) __wake_up(q, TASK_INTERRUPTIBLE, 1)

/**
 * wait_event_interruptible - sleep until @condition is true
 * @wq: the wait queue to sleep on
 * @condition: a C expression re-evaluated after every wakeup
 *
 * Whoever changes the condition must wake_up(@wq) afterwards.
 */
#define wait_event_interruptible(wq, condition)				\
do {									\
	DEFINE_WAIT(__wait);						\
	for (;;) {							\
		prepare_to_wait(&(wq), &__wait, TASK_INTERRUPTIBLE);	\
		if (condition)						\
			break;						\
		schedule();						\
	}								\
	finish_wait(&(wq), &__wait);					\
} while (0)

#define wait_event(wq, condition)					\
do {									\
	DEFINE_WAIT(__wait);						\
	for (;;) {							\
		prepare_to_wait(&(wq), &__wait, TASK_UNINTERRUPTIBLE);	\
		if (condition)						\
			break;						\
		schedule();						\
	}								\
	finish_wait(&(wq), &__wait);					\
} while (0)

#endif
