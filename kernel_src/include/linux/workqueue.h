#ifndef _LINUX_WORKQUEUE_H
#define _LINUX_WORKQUEUE_H

#include <linux/list.h>
#include <linux/wait.h>
#include <linux/threads.h>

/*
 * Workqueues: deferred functions that run, in order, in the context of a
 * worker kthread, so they may sleep.  A queue has one worker per online
 * CPU, bound to it ("events/0", "events/1", ...), and work runs on the
 * CPU that queued it; a single-thread queue ("khelper") has one worker,
 * on no particular CPU.
 */
struct work_struct;
typedef void (*work_func_t)(struct work_struct *work);

struct work_struct {
	struct list_head entry;		/* on the queue's worklist while pending */
	work_func_t func;
};

#define INIT_WORK(w, f) \
	do { INIT_LIST_HEAD(&(w)->entry); (w)->func = (f); } while (0)

/* One worker and its list of pending work. */
struct cpu_workqueue_struct {
	struct list_head worklist;
	wait_queue_head_t more_work;
	struct task_struct *thread;
};

struct workqueue_struct {
	const char *name;
	int singlethread;		/* only cpu_wq[0] is used */
	struct cpu_workqueue_struct cpu_wq[NR_CPUS];
};

struct workqueue_struct *__create_workqueue(const char *name, int singlethread);
#define create_workqueue(name)			__create_workqueue((name), 0)
#define create_singlethread_workqueue(name)	__create_workqueue((name), 1)

int queue_work(struct workqueue_struct *wq, struct work_struct *work);
int schedule_work(struct work_struct *work);
void init_workqueues(void);

#endif
