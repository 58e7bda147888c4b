/*
 * sched.c - this kernel's scheduler: a FIFO run queue and schedule().
 *
 * Policy (this kernel, not Linux): round robin among runnable tasks, in
 * the order they became runnable, the idle task when there are none.
 * NOT preemptive: a task switches only inside schedule(), which it calls
 * itself to sleep or to yield.  The timer tick only updates jiffies and
 * runs timers, which may wake sleepers (put them on the run queue); the
 * woken tasks run when the current task next calls schedule().
 *
 * Linux 2.6.32 (kernel/sched.c, sched_fair.c) is CFS: runnable tasks are
 * ordered by virtual runtime, not arrival; a wake-up may preempt the
 * running task (check_preempt_wakeup()), and the tick ends a task's slice
 * (scheduler_tick()).  So orders that are fixed here ("B runs right after
 * A sleeps") are not guaranteed there.  See labs/LINUX-DIFFERENCES.md.
 *
 * Invariants:
 *  - a task is on the run queue (p->on_rq) iff it is not the idle task
 *    and it is TASK_RUNNING or has just been set to sleep but has not yet
 *    been dequeued by schedule();
 *  - the run queue is only touched with interrupts off, since timer
 *    callbacks call wake_up_process() from the timer interrupt;
 *  - current_task changes only in __switch_to().
 */
#include <linux/sched.h>
#include <linux/kernel.h>
#include <asm/system.h>
#include <asm/irqflags.h>

static LIST_HEAD(runqueue);
static int rq_nr_running;
static struct task_struct *idle_task = &init_task;

/* Context switches so far, for the curious (gdb: print nr_switches). */
unsigned long nr_switches;

void add_preempt_count(int val)
{
	current->preempt_count += val;
}

void sub_preempt_count(int val)
{
	current->preempt_count -= val;
}

static void enqueue_task(struct task_struct *p)
{
	list_add_tail(&p->run_list, &runqueue);
	p->on_rq = 1;
	rq_nr_running++;
}

static void dequeue_task(struct task_struct *p)
{
	list_del_init(&p->run_list);
	p->on_rq = 0;
	rq_nr_running--;
}

/* Number of runnable tasks other than the idle task. */
int nr_running(void)
{
	return rq_nr_running;
}

/**
 * wake_up_state - wake @p if it sleeps in one of the @state states.
 * Returns 1 if @p was woken, 0 if it was running already (or in another
 * state, e.g. a zombie).  Safe from interrupt handlers.
 */
int wake_up_state(struct task_struct *p, unsigned int state)
{
	unsigned long flags;
	int woken = 0;

	local_irq_save(flags);
	if (p->state & state) {
		p->state = TASK_RUNNING;
		if (!p->on_rq && p != idle_task)
			enqueue_task(p);
		woken = 1;
	}
	local_irq_restore(flags);
	return woken;
}

/**
 * wake_up_process - wake a specific sleeping task.
 * @p: the task
 *
 * Makes @p runnable; in this kernel it runs when the current task next
 * calls schedule() (Linux may preempt the waker at once).  Returns 1 if @p
 * was asleep, 0 if it was runnable already.
 */
int wake_up_process(struct task_struct *p)
{
	return wake_up_state(p, TASK_NORMAL);
}

/* wake_up_new_task - put a task fresh from copy_process() on the queue. */
void wake_up_new_task(struct task_struct *p)
{
	unsigned long flags;

	local_irq_save(flags);
	p->state = TASK_RUNNING;
	enqueue_task(p);
	local_irq_restore(flags);
}

/*
 * sched_setscheduler_nocheck - reset @p to the default policy.  We have a
 * single policy and a single CPU, so there is nothing to reset.
 */
int sched_setscheduler_nocheck(struct task_struct *p)
{
	return 0;
}

/*
 * schedule_tail - the second half of a task switch, run by the task that
 * was switched to: from schedule() after switch_to() returns, or from
 * ret_from_fork for a task's very first run.  @prev is the task we came
 * from.  If @prev was dead, we drop the reference it held on itself: it
 * could not, while running on its own stack (Linux: finish_task_switch()).
 * Turns interrupts back on.
 */
void schedule_tail(struct task_struct *prev)
{
	if (unlikely(prev->state == TASK_DEAD))
		put_task_struct(prev);
	local_irq_enable();
}

/**
 * schedule - give up the CPU.
 *
 * If the caller set its state to something other than TASK_RUNNING, it
 * leaves the run queue and sleeps until woken; otherwise it goes to the
 * back of the queue (a yield).  Returns when the caller is picked again.
 * Must not be called from an interrupt handler or with a spinlock held.
 * Returns with interrupts enabled.
 */
void schedule(void)
{
	struct task_struct *prev, *next;

	local_irq_disable();
	prev = current;
	if (unlikely(prev->preempt_count))
		printk("BUG: scheduling while atomic: %s/%d/0x%08x\n",
		       prev->comm, prev->pid, prev->preempt_count);

	if (prev != idle_task && prev->on_rq) {
		if (prev->state != TASK_RUNNING)
			dequeue_task(prev);
		else
			list_move_tail(&prev->run_list, &runqueue);
	}

	if (list_empty(&runqueue))
		next = idle_task;
	else
		next = list_first_entry(&runqueue, struct task_struct, run_list);

	if (next != prev) {
		nr_switches++;
		switch_to(prev, next, prev);
		/* We are back: some other task switched to us.  prev = it. */
	}
	schedule_tail(prev);
}

/* sched_init - the boot task becomes the idle task, pid 0. */
void sched_init(void)
{
	idle_task = current;
	set_task_comm(idle_task, "swapper");
}
