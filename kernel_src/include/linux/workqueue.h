#ifndef _LINUX_WORKQUEUE_H
#define _LINUX_WORKQUEUE_H

#include <linux/list.h>
#include <linux/wait.h>

/*
 * Workqueues: deferred functions that run, in order, in the context of a
 * worker kthread, so they may sleep.  One worker per queue (one CPU):
 * "events/0" for the shared queue, "khelper" for the helper queue.
 */
struct work_struct;
typedef void (*work_func_t)(struct work_struct *work);

struct work_struct {
	struct list_head entry;		/* on the queue's worklist while pending */
	work_func_t func;
};

#define INIT_WORK(w, f) \
	do { INIT_LIST_HEAD(&(w)->entry); (w)->func = (f); } while (0)

struct workqueue_struct {
	const char *name;
	struct list_head worklist;
	wait_queue_head_t more_work;
	struct task_struct *thread;
};

struct workqueue_struct *__create_workqueue(const char *name, int singlethread);
#define create_workqueue(name)			__create_workqueue((name), 0)
#define create_singlethread_workqueue(name)	__create_workqueue((name), 1)

int queue_work(struct workqueue_struct *wq, struct work_struct *work);
int schedule_work(struct work_struct *work);
void init_workqueues(void);

#endif
