/*
 * workqueue.c - run deferred work in a kthread.
 *
 * queue_work() appends a work item to a queue's worklist and wakes the
 * queue's worker; the worker takes items off the front one at a time and
 * calls them with the list lock dropped, so work functions may sleep.
 * With nothing queued, the worker sleeps on more_work.
 *
 * Invariant: a work item is on at most one list; its entry is an empty
 * list exactly when it is not pending.  The worklist is only touched with
 * interrupts off (work may be queued from interrupt handlers).
 */
#include <linux/workqueue.h>
#include <linux/kthread.h>
#include <linux/slab.h>
#include <linux/kernel.h>

static struct workqueue_struct *keventd_wq;	/* "events" */
static struct workqueue_struct *khelper_wq;	/* "khelper" */

static int worker_thread(void *__wq)
{
	struct workqueue_struct *wq = __wq;
	unsigned long flags;

	while (!kthread_should_stop()) {
		wait_event_interruptible(wq->more_work,
					 !list_empty(&wq->worklist) ||
					 kthread_should_stop());

		local_irq_save(flags);
		while (!list_empty(&wq->worklist)) {
			struct work_struct *work = list_first_entry(
				&wq->worklist, struct work_struct, entry);

			list_del_init(&work->entry);
			local_irq_restore(flags);
			work->func(work);
			local_irq_save(flags);
		}
		local_irq_restore(flags);
	}
	return 0;
}

/**
 * __create_workqueue - make a workqueue and start its worker.
 * @name: queue name; the worker is "@name/0", or just "@name" if
 *        @singlethread (a per-cpu queue is named after its cpu)
 * Returns the queue, or NULL.
 */
struct workqueue_struct *__create_workqueue(const char *name, int singlethread)
{
	struct workqueue_struct *wq = kzalloc(sizeof(*wq));
	struct task_struct *t;

	if (!wq)
		return NULL;
	wq->name = name;
	INIT_LIST_HEAD(&wq->worklist);
	init_waitqueue_head(&wq->more_work);

	if (singlethread)
		t = kthread_create(worker_thread, wq, "%s", name);
	else
		t = kthread_create(worker_thread, wq, "%s/%d", name, 0);
	if (IS_ERR(t)) {
		kfree(wq);
		return NULL;
	}
	wq->thread = t;
	wake_up_process(t);
	return wq;
}

/**
 * queue_work - queue @work on @wq.
 * Returns 1 if queued, 0 if it was already pending.
 */
int queue_work(struct workqueue_struct *wq, struct work_struct *work)
{
	unsigned long flags;
	int ret = 0;

	local_irq_save(flags);
	if (list_empty(&work->entry)) {
		list_add_tail(&work->entry, &wq->worklist);
		ret = 1;
	}
	local_irq_restore(flags);
	if (ret)
		wake_up(&wq->more_work);
	return ret;
}

/* schedule_work - queue @work on the shared "events" queue. */
int schedule_work(struct work_struct *work)
{
	return queue_work(keventd_wq, work);
}

/* init_workqueues - start events/0 and khelper (boot, from kernel_init()). */
void init_workqueues(void)
{
	keventd_wq = create_workqueue("events");
	khelper_wq = create_singlethread_workqueue("khelper");
	BUG_ON(!keventd_wq || !khelper_wq);
}
