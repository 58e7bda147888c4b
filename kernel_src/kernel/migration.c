/*
 * migration.c - moving a task to a CPU its mask allows.
 *
 * set_cpus_allowed_ptr() changes the CPUs a task may run on.  If its
 * current CPU is still allowed, that is all.  Otherwise it must move:
 *  - a task that is not running (asleep, or queued behind the current
 *    task of its CPU) is moved at once, under both run queue locks
 *    (migrate_queued_task() in sched.c);
 *  - a running task cannot be pulled off its CPU by another: we queue a
 *    request for that CPU's migration thread, migration/N, and wait.
 *    migration/N runs only on N, so while it runs the task is not
 *    running, and it can be moved like any other.  (A task moving itself
 *    sleeps in the wait, and is woken on its new CPU.)
 * Migration threads exist once there is more than one CPU (smp_init());
 * with one CPU every allowed mask contains CPU 0 and nothing moves.
 */
#include <linux/sched.h>
#include <linux/kthread.h>
#include <linux/smp.h>
#include <linux/errno.h>

/* One request, on the stack of the task waiting in set_cpus_allowed_ptr(). */
struct migration_req {
	struct list_head list;
	struct task_struct *task;
	int dest_cpu;
	struct completion done;
};

/* Per CPU: pending requests (guarded by migration_lock) and the thread. */
static DEFINE_PER_CPU(struct list_head, migration_queue);
static DEFINE_PER_CPU(spinlock_t, migration_lock);
static DEFINE_PER_CPU(struct task_struct *, migration_task);

/**
 * set_cpus_allowed_ptr - let @p run only on the CPUs in @new_mask.
 * Returns 0 once @p is on an allowed CPU (it may be asleep there), or
 * -EINVAL if no CPU in @new_mask is online (nothing changes then).
 * May sleep, unless @p's CPU is in @new_mask.
 */
int set_cpus_allowed_ptr(struct task_struct *p, const struct cpumask *new_mask)
{
	struct migration_req req;
	unsigned long flags;
	int cpu, dest;

	if (!cpumask_intersects(new_mask, cpu_online_mask))
		return -EINVAL;
	p->cpus_allowed = *new_mask;
	for (;;) {
		cpu = task_cpu(p);
		if (cpumask_test_cpu(cpu, new_mask))
			return 0;
		dest = cpumask_any_and(new_mask, cpu_online_mask);
		if (migrate_queued_task(p, cpu, dest) == 0)
			continue;	/* moved: check again */

		/* Running on @cpu: only migration/@cpu can move it. */
		req.task = p;
		req.dest_cpu = dest;
		init_completion(&req.done);
		spin_lock_irqsave(&per_cpu(migration_lock, cpu), flags);
		list_add_tail(&req.list, &per_cpu(migration_queue, cpu));
		spin_unlock_irqrestore(&per_cpu(migration_lock, cpu), flags);
		wake_up_process(per_cpu(migration_task, cpu));
		wait_for_completion(&req.done);
	}
}

/*
 * migration_thread - migration/N: serve this CPU's requests.  Each is
 * tried once; set_cpus_allowed_ptr() re-checks and asks again if the
 * task was running elsewhere meanwhile.
 */
static int migration_thread(void *data)
{
	int cpu = (long) data;
	struct migration_req *req;
	unsigned long flags;

	BUG_ON(smp_processor_id() != cpu);
	for (;;) {
		spin_lock_irqsave(&per_cpu(migration_lock, cpu), flags);
		while (list_empty(&per_cpu(migration_queue, cpu))) {
			set_current_state(TASK_INTERRUPTIBLE);
			spin_unlock_irqrestore(&per_cpu(migration_lock, cpu), flags);
			schedule();
			spin_lock_irqsave(&per_cpu(migration_lock, cpu), flags);
		}
		req = list_first_entry(&per_cpu(migration_queue, cpu),
				       struct migration_req, list);
		list_del_init(&req->list);
		spin_unlock_irqrestore(&per_cpu(migration_lock, cpu), flags);

		migrate_queued_task(req->task, cpu, req->dest_cpu);
		complete(&req->done);
	}
	return 0;
}

/* migration_init_cpu - start migration/@cpu, bound to @cpu (@cpu online). */
void migration_init_cpu(int cpu)
{
	struct task_struct *p;

	INIT_LIST_HEAD(&per_cpu(migration_queue, cpu));
	spin_lock_init(&per_cpu(migration_lock, cpu));
	p = kthread_create_on_cpu(migration_thread, (void *)(long) cpu, cpu,
				  "migration/%u");
	BUG_ON(IS_ERR(p));
	per_cpu(migration_task, cpu) = p;
	wake_up_process(p);
}
