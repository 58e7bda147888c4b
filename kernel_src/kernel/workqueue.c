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
 * workqueue_lock held, interrupts off (work may be queued from interrupt
 * handlers, and from any CPU).
 */
#include <linux/workqueue.h>
#include <linux/kthread.h>
#include <linux/slab.h>
#include <linux/kernel.h>
#include <linux/smp.h>

static struct workqueue_struct *keventd_wq;	/* "events" */
static struct workqueue_struct *khelper_wq;	/* "khelper" */

/* Guards every queue's worklist, from any CPU and interrupt handlers. */
static DEFINE_SPINLOCK(workqueue_lock);

static int worker_thread(void *__cwq)
{
	struct cpu_workqueue_struct *cwq = __cwq;
	unsigned long flags;

	while (!kthread_should_stop()) {
		wait_event_interruptible(cwq->more_work,
					 !list_empty(&cwq->worklist) ||
					 kthread_should_stop());

		spin_lock_irqsave(&workqueue_lock, flags);
		while (!list_empty(&cwq->worklist)) {
			struct work_struct *work = list_first_entry(
				&cwq->worklist, struct work_struct, entry);

			list_del_init(&work->entry);
			spin_unlock_irqrestore(&workqueue_lock, flags);
			work->func(work);
			spin_lock_irqsave(&workqueue_lock, flags);
		}
		spin_unlock_irqrestore(&workqueue_lock, flags);
	}
	return 0;
}

/* Start the worker of @cwq: "@name/@cpu" bound to @cpu, or "@name" if @cpu < 0. */
static int start_worker(struct workqueue_struct *wq,
			struct cpu_workqueue_struct *cwq, int cpu)
{
	struct task_struct *t;

	INIT_LIST_HEAD(&cwq->worklist);
	init_waitqueue_head(&cwq->more_work);
	if (cpu < 0)
		t = kthread_create(worker_thread, cwq, "%s", wq->name);
	else
		t = kthread_create(worker_thread, cwq, "%s/%d", wq->name, cpu);
	if (IS_ERR(t))
		return -1;
	if (cpu >= 0)
		kthread_bind(t, cpu);
	cwq->thread = t;
	wake_up_process(t);
	return 0;
}

/**
 * __create_workqueue - make a workqueue and start its workers.
 * @name: queue name; the workers are "@name/N", one per online CPU, or
 *        just one, "@name", if @singlethread
 * Returns the queue, or NULL.  (A failed start leaves the workers already
 * started running: this kernel creates queues only at boot.)
 */
struct workqueue_struct *__create_workqueue(const char *name, int singlethread)
{
	struct workqueue_struct *wq = kzalloc(sizeof(*wq));
	int cpu;

	if (!wq)
		return NULL;
	wq->name = name;
	wq->singlethread = singlethread;
	if (singlethread)
		return start_worker(wq, &wq->cpu_wq[0], -1) ? NULL : wq;
	for_each_online_cpu(cpu)
		if (start_worker(wq, &wq->cpu_wq[cpu], cpu))
			return NULL;
	return wq;
}

/**
 * queue_work - queue @work on @wq, for this CPU's worker.
 * Returns 1 if queued, 0 if it was already pending.
 */
int queue_work(struct workqueue_struct *wq, struct work_struct *work)
{
	struct cpu_workqueue_struct *cwq =
		&wq->cpu_wq[wq->singlethread ? 0 : smp_processor_id()];
	unsigned long flags;
	int ret = 0;

	spin_lock_irqsave(&workqueue_lock, flags);
	if (list_empty(&work->entry)) {
		list_add_tail(&work->entry, &cwq->worklist);
		ret = 1;
	}
	spin_unlock_irqrestore(&workqueue_lock, flags);
	if (ret)
		wake_up(&cwq->more_work);
	return ret;
}

/* schedule_work - queue @work on the shared "events" queue. */
int schedule_work(struct work_struct *work)
{
	return queue_work(keventd_wq, work);
}

/* init_workqueues - start events/N and khelper (boot, from kernel_init()). */
void init_workqueues(void)
{
	keventd_wq = create_workqueue("events");
	khelper_wq = create_singlethread_workqueue("khelper");
	BUG_ON(!keventd_wq || !khelper_wq);
}
