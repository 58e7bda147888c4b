#ifndef _LINUX_COMPLETION_H
#define _LINUX_COMPLETION_H

#include <linux/wait.h>

/*
 * struct completion - a one-way "it has happened" signal between tasks.
 * @done: number of complete() calls not yet consumed by a waiter
 * @wait: tasks sleeping in wait_for_completion()
 *
 * Unlike a bare wake_up_process(), a completion remembers: complete()
 * before wait_for_completion() makes the wait return at once.
 */
struct completion {
	unsigned int done;
	wait_queue_head_t wait;
};

#define COMPLETION_INITIALIZER(work) \
	{ 0, __WAIT_QUEUE_HEAD_INITIALIZER((work).wait) }

#define DECLARE_COMPLETION(work) \
	struct completion work = COMPLETION_INITIALIZER(work)

void init_completion(struct completion *x);
void wait_for_completion(struct completion *x);
void complete(struct completion *x);
void complete_all(struct completion *x);

#endif
