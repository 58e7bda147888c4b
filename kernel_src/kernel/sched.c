/*
 * sched.c - this kernel's scheduler: a FIFO run queue per CPU and schedule().
 *
 * Policy (this kernel, not Linux): each CPU runs its own runnable tasks
 * round robin, in the order they became runnable, and its idle task when
 * there are none.  NOT preemptive: a task switches only inside schedule(),
 * which it calls itself to sleep or to yield.  The timer tick only updates
 * jiffies and runs timers, which may wake sleepers (put them on a run
 * queue); the woken tasks run when their CPU's current task next calls
 * schedule(), or at once if that CPU was idle.
 *
 * CPUs (this kernel): a task is queued on the run queue of task_cpu(p),
 * and only that CPU runs it.  New tasks start on their parent's CPU; a
 * task changes CPU only while it is not running: kthread_bind() before its
 * first run, or the migration thread (kernel/migration.c) when its
 * cpus_allowed excludes its CPU.  There is no load balancing.
 *
 * Linux 2.6.32 (kernel/sched.c, sched_fair.c) is CFS: runnable tasks are
 * ordered by virtual runtime, not arrival; a wake-up may preempt the
 * running task (check_preempt_wakeup()), the tick ends a task's slice
 * (scheduler_tick()), and idle CPUs pull tasks from busy ones.  So orders
 * that are fixed here ("B runs right after A sleeps") are not guaranteed
 * there.  See labs/LINUX-DIFFERENCES.md.
 *
 * Invariants:
 *  - a task is on its CPU's run queue (p->on_rq) iff it is not an idle
 *    task and it is TASK_RUNNING or has just been set to sleep but has not
 *    yet been dequeued by schedule();
 *  - a run queue is only touched with its rq_lock held and interrupts off
 *    (timers wake tasks from the timer interrupt; other CPUs wake them too);
 *  - schedule() holds its CPU's rq_lock across switch_to(): the task
 *    switched to releases it (schedule_tail()).  A waker takes the lock
 *    of the task's CPU, so it cannot slip in while the task is half saved;
 *  - current_task changes only in __switch_to().
 */
#include <linux/sched.h>
#include <linux/kernel.h>
#include <linux/smp.h>
#include <linux/errno.h>
#include <asm/system.h>
#include <asm/irqflags.h>

/* Per CPU: its runnable tasks (head runs next), their number, its lock. */
static DEFINE_PER_CPU(struct list_head, runqueue) = LIST_HEAD_INIT(runqueue);
static DEFINE_PER_CPU(int, rq_nr_running);
static DEFINE_PER_CPU(spinlock_t, rq_lock);
static DEFINE_PER_CPU(struct task_struct *, idle_task) = &init_task;

/* Context switches so far, all CPUs (gdb: print nr_switches). */
unsigned long nr_switches;

static int try_to_wake_up(struct task_struct *p, unsigned int state);

void add_preempt_count(int val)
{
	current->preempt_count += val;
}

void sub_preempt_count(int val)
{
	current->preempt_count -= val;
}

/* Lock @cpu's run queue; interrupts must be off. */
static void rq_lock_cpu(int cpu)
{
	raw_spin_lock(&per_cpu(rq_lock, cpu));
}

static void rq_unlock_cpu(int cpu)
{
	raw_spin_unlock(&per_cpu(rq_lock, cpu));
}

static void enqueue_task(struct task_struct *p)
{
	list_add_tail(&p->run_list, &per_cpu(runqueue, task_cpu(p)));
	p->on_rq = 1;
	per_cpu(rq_nr_running, task_cpu(p))++;
}

/* Number of runnable tasks on this CPU other than its idle task. */
int nr_running(void)
{
	return per_cpu(rq_nr_running, smp_processor_id());
}

/**
 * wake_up_process - wake a specific sleeping task.
 * @p: the task
 *
 * Makes @p runnable on its CPU; in this kernel it runs when that CPU's
 * current task next calls schedule(), or at once if that CPU idles (Linux
 * may also preempt the waker).  Returns 1 if @p was asleep, else 0.
 */
int wake_up_process(struct task_struct *p)
{
	return try_to_wake_up(p, TASK_NORMAL);
}

/*
 * task_rq_lock - disable interrupts and lock the run queue of @p's CPU.
 * Returns that CPU.  @p's CPU may change while we wait for its lock (the
 * migration thread holds it then), hence the re-check.
 */
static int task_rq_lock(struct task_struct *p, unsigned long *flags)
{
	int cpu;

	local_irq_save(*flags);
	for (;;) {
		cpu = task_cpu(p);
		rq_lock_cpu(cpu);
		if (cpu == task_cpu(p))
			return cpu;
		rq_unlock_cpu(cpu);
	}
}

static void task_rq_unlock(int cpu, unsigned long flags)
{
	rq_unlock_cpu(cpu);
	local_irq_restore(flags);
}

static void dequeue_task(struct task_struct *p)
{
	list_del_init(&p->run_list);
	p->on_rq = 0;
	per_cpu(rq_nr_running, task_cpu(p))--;
}

/*
 * resched_cpu - @cpu has a task queued: if it is idling (in hlt) and is
 * not us, wake it with a reschedule IPI.  A CPU running a task needs
 * nothing: that task's next schedule() finds the queued one.
 */
static void resched_cpu(int cpu)
{
	if (cpu != smp_processor_id() &&
	    per_cpu(current_task, cpu) == per_cpu(idle_task, cpu))
		smp_send_reschedule(cpu);
}

/*
 * try_to_wake_up - wake @p if it sleeps in one of the @state states.
 * Returns 1 if @p was woken, 0 if it was running already (or in another
 * state, e.g. a zombie).  Safe from interrupt handlers and any CPU.
 * Inlined into both callers: gdb's `break wake_up_process` stops on that
 * function's own first line, as when it was a few lines long.
 */
static __always_inline int try_to_wake_up(struct task_struct *p,
					  unsigned int state)
{
	unsigned long flags;
	int woken = 0, queued = 0;
	int cpu = task_rq_lock(p, &flags);

	if (p->state & state) {
		p->state = TASK_RUNNING;
		if (!p->on_rq && p != per_cpu(idle_task, cpu)) {
			enqueue_task(p);
			queued = 1;
		}
		woken = 1;
	}
	if (queued)
		resched_cpu(cpu);
	task_rq_unlock(cpu, flags);
	return woken;
}

/* wake_up_state - wake @p if it sleeps in one of the @state states. */
int wake_up_state(struct task_struct *p, unsigned int state)
{
	return try_to_wake_up(p, state);
}

/* wake_up_new_task - put a task fresh from copy_process() on its queue. */
void wake_up_new_task(struct task_struct *p)
{
	unsigned long flags;
	int cpu = task_rq_lock(p, &flags);

	p->state = TASK_RUNNING;
	enqueue_task(p);
	resched_cpu(cpu);
	task_rq_unlock(cpu, flags);
}

/*
 * sched_setscheduler_nocheck - reset @p to the default policy.  We have a
 * single policy, so there is nothing to reset.
 */
int sched_setscheduler_nocheck(struct task_struct *p)
{
	return 0;
}

/*
 * set_task_cpu - make @cpu @p's CPU.  @p must not be queued or running,
 * or the caller must hold the run queue locks of both CPUs and move it.
 */
void set_task_cpu(struct task_struct *p, int cpu)
{
	p->cpu = cpu;
}

/*
 * wait_task_inactive - return once @p, which has set itself to sleep, has
 * left its CPU for good (its registers saved, its stack free): from then
 * on, until it is woken, nobody else touches it.
 */
void wait_task_inactive(struct task_struct *p)
{
	while (ACCESS_ONCE(p->oncpu))
		cpu_relax();
}

/*
 * migrate_queued_task - move @p, queued and not running, to @dest_cpu's
 * run queue; or, if it sleeps, just make @dest_cpu its CPU.  Takes both
 * run queue locks, lower CPU first (two CPUs moving tasks in opposite
 * directions must not each hold one lock and wait for the other).
 * Returns 0, or -EAGAIN if @p is running (it is not @src_cpu's to move).
 */
int migrate_queued_task(struct task_struct *p, int src_cpu, int dest_cpu)
{
	unsigned long flags;
	int ret = 0;

	local_irq_save(flags);
	rq_lock_cpu(min(src_cpu, dest_cpu));
	rq_lock_cpu(max(src_cpu, dest_cpu));
	if (task_cpu(p) != src_cpu || p->oncpu) {
		ret = -EAGAIN;
	} else if (p->on_rq) {
		dequeue_task(p);
		set_task_cpu(p, dest_cpu);
		enqueue_task(p);
		resched_cpu(dest_cpu);
	} else {
		set_task_cpu(p, dest_cpu);
	}
	rq_unlock_cpu(max(src_cpu, dest_cpu));
	rq_unlock_cpu(min(src_cpu, dest_cpu));
	local_irq_restore(flags);
	return ret;
}

/*
 * schedule_tail - the second half of a task switch, run by the task that
 * was switched to: from schedule() after switch_to() returns, or from
 * ret_from_fork for a task's very first run.  @prev is the task we came
 * from.  @prev is now off this CPU (oncpu = 0), and we release the run
 * queue lock schedule() took.  If @prev was dead, we drop the reference
 * it held on itself: it could not, while running on its own stack (Linux:
 * finish_task_switch()).  Turns interrupts back on.
 */
void schedule_tail(struct task_struct *prev)
{
	if (prev != current)
		prev->oncpu = 0;
	rq_unlock_cpu(smp_processor_id());
	if (unlikely(prev->state == TASK_DEAD))
		put_task_struct(prev);
	local_irq_enable();
}

/**
 * schedule - give up the CPU.
 *
 * If the caller set its state to something other than TASK_RUNNING, it
 * leaves the run queue and sleeps until woken; otherwise it goes to the
 * back of its CPU's queue (a yield).  Returns when the caller is picked
 * again, on its CPU, which may have changed meanwhile (see above).
 * Must not be called from an interrupt handler or with a spinlock held.
 * Returns with interrupts enabled.
 */
void schedule(void)
{
	struct task_struct *prev, *next;
	int cpu;

	local_irq_disable();
	prev = current;
	cpu = smp_processor_id();
	if (unlikely(prev->preempt_count))
		printk("BUG: scheduling while atomic: %s/%d/0x%08x\n",
		       prev->comm, prev->pid, prev->preempt_count);

	rq_lock_cpu(cpu);
	if (prev != per_cpu(idle_task, cpu) && prev->on_rq) {
		if (prev->state != TASK_RUNNING)
			dequeue_task(prev);
		else
			list_move_tail(&prev->run_list, &per_cpu(runqueue, cpu));
	}

	if (list_empty(&per_cpu(runqueue, cpu)))
		next = per_cpu(idle_task, cpu);
	else
		next = list_first_entry(&per_cpu(runqueue, cpu),
					struct task_struct, run_list);

	if (next != prev) {
		__asm__ __volatile__("lock; incl %0" : "+m"(nr_switches));
		next->oncpu = 1;
		switch_to(prev, next, prev);
		/* We are back: some other task switched to us.  prev = it. */
	}
	schedule_tail(prev);
}

/*
 * sched_init_idle - @idle becomes @cpu's idle task (pid 0, "swapper"),
 * running there now.  The boot CPU's is the boot task (sched_init()).
 */
void sched_init_idle(struct task_struct *idle, int cpu)
{
	INIT_LIST_HEAD(&per_cpu(runqueue, cpu));
	per_cpu(idle_task, cpu) = idle;
	set_task_cpu(idle, cpu);
	idle->cpus_allowed = *cpumask_of(cpu);
	idle->oncpu = 1;
	set_task_comm(idle, "swapper");
}

/* sched_init - the boot task becomes CPU 0's idle task, pid 0. */
void sched_init(void)
{
	sched_init_idle(current, 0);
}
