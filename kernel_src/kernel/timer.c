/*
 * timer.c - jiffies, kernel timers, and sleeping for a while.
 *
 * Pending timers sit on one list sorted by expiry (earliest first).  The
 * timer interrupt calls do_timer() (jiffies++) and run_timers(), which
 * runs, with interrupts off, every timer whose expiry has come.  A timer
 * is removed from the list before its function runs, so the function may
 * re-add it.
 *
 * The list is touched only with timer_lock held and interrupts off.
 * run_timers() holds the lock while a timer's function runs, so once
 * del_timer() returns (on any CPU) the timer's function is not running
 * and will not run: the timer may be freed (Linux: del_timer_sync()).
 * Timer functions must therefore not add or delete timers themselves.
 *
 * This kernel, not Linux: 2.6.32 keeps timers in a per-CPU timer wheel
 * (tvec_base) and runs them from the TIMER_SOFTIRQ (run_timer_softirq()),
 * with interrupts on, after the hard interrupt has returned; here they
 * run inside the hard interrupt.
 */
#include <linux/timer.h>
#include <linux/jiffies.h>
#include <linux/sched.h>
#include <linux/delay.h>
#include <linux/kernel.h>
#include <linux/signal.h>
#include <linux/spinlock.h>

volatile unsigned long jiffies;

static LIST_HEAD(timer_head);
/* Guards timer_head.  A cache line of its own: every CPU may spin on it. */
static spinlock_t timer_lock __aligned(64) = __SPIN_LOCK_UNLOCKED(timer_lock);

void init_timer(struct timer_list *timer)
{
	INIT_LIST_HEAD(&timer->entry);
}

void setup_timer(struct timer_list *timer, void (*fn)(unsigned long),
		 unsigned long data)
{
	init_timer(timer);
	timer->function = fn;
	timer->data = data;
}

int timer_pending(const struct timer_list *timer)
{
	return !list_empty(&timer->entry);
}

/**
 * add_timer - start a timer: @timer->function(@timer->data) runs from the
 * timer interrupt once jiffies reaches @timer->expires.  The timer must
 * not be pending already.
 */
void add_timer(struct timer_list *timer)
{
	struct list_head *pos;
	unsigned long flags;

	spin_lock_irqsave(&timer_lock, flags);
	BUG_ON(timer_pending(timer));
	/* Insert after every timer that expires no later: FIFO among equals. */
	list_for_each(pos, &timer_head) {
		struct timer_list *t = list_entry(pos, struct timer_list, entry);

		if (time_after(t->expires, timer->expires))
			break;
	}
	list_add_tail(&timer->entry, pos);
	spin_unlock_irqrestore(&timer_lock, flags);
}

/**
 * del_timer - deactivate a timer.  Returns 1 if it was pending, 0 if it
 * had already run (or was never added).
 */
int del_timer(struct timer_list *timer)
{
	unsigned long flags;
	int ret = 0;

	spin_lock_irqsave(&timer_lock, flags);
	if (timer_pending(timer)) {
		list_del_init(&timer->entry);
		ret = 1;
	}
	spin_unlock_irqrestore(&timer_lock, flags);
	return ret;
}

/* mod_timer - (re)start @timer to expire at @expires. */
int mod_timer(struct timer_list *timer, unsigned long expires)
{
	int ret = del_timer(timer);

	timer->expires = expires;
	add_timer(timer);
	return ret;
}

/* do_timer - @ticks timer interrupts have happened.  Interrupts off. */
void do_timer(unsigned long ticks)
{
	jiffies += ticks;
}

/* run_timers - run every expired timer.  Timer interrupt, interrupts off. */
void run_timers(void)
{
	spin_lock(&timer_lock);
	while (!list_empty(&timer_head)) {
		struct timer_list *t =
			list_first_entry(&timer_head, struct timer_list, entry);

		if (time_before(jiffies, t->expires))
			break;
		list_del_init(&t->entry);
		t->function(t->data);
	}
	spin_unlock(&timer_lock);
}

void init_timers(void)
{
	INIT_LIST_HEAD(&timer_head);
}

static void process_timeout(unsigned long data)
{
	wake_up_process((struct task_struct *) data);
}

/**
 * schedule_timeout - sleep until @timeout jiffies have passed.
 * @timeout: jiffies to sleep, or MAX_SCHEDULE_TIMEOUT for no limit
 *
 * The caller sets its state first: with TASK_INTERRUPTIBLE an earlier
 * wake_up_process() ends the sleep; with TASK_UNINTERRUPTIBLE only the
 * timeout does (or a wake_up_state() naming that state).  With
 * TASK_RUNNING it just yields.
 *
 * Returns 0 if the timeout expired, otherwise the jiffies that remained.
 */
long schedule_timeout(long timeout)
{
	struct timer_list timer;
	unsigned long expire;

	if (timeout == MAX_SCHEDULE_TIMEOUT) {
		schedule();
		return timeout;
	}
	if (timeout < 0) {
		printk("schedule_timeout: wrong timeout value %lx\n", timeout);
		__set_current_state(TASK_RUNNING);
		return 0;
	}

	expire = timeout + jiffies;
	setup_timer(&timer, process_timeout, (unsigned long) current);
	timer.expires = expire;
	add_timer(&timer);
	schedule();
	del_timer(&timer);

	timeout = expire - jiffies;
	return timeout < 0 ? 0 : timeout;
}

long schedule_timeout_interruptible(long timeout)
{
	__set_current_state(TASK_INTERRUPTIBLE);
	return schedule_timeout(timeout);
}

long schedule_timeout_uninterruptible(long timeout)
{
	__set_current_state(TASK_UNINTERRUPTIBLE);
	return schedule_timeout(timeout);
}

/**
 * msleep - sleep at least @msecs milliseconds; nothing wakes it early.
 */
void msleep(unsigned int msecs)
{
	long timeout = msecs_to_jiffies(msecs) + 1;

	while (timeout)
		timeout = schedule_timeout_uninterruptible(timeout);
}

/**
 * msleep_interruptible - sleep @msecs milliseconds unless a signal comes.
 *
 * As in Linux, only a pending signal ends the sleep early: any other
 * wake-up (kthread_stop() sends one) just goes back to sleep for the rest.
 * This kernel delivers no signals, so it always sleeps the full time.
 * Returns the milliseconds that remained.
 */
unsigned long msleep_interruptible(unsigned int msecs)
{
	long timeout = msecs_to_jiffies(msecs) + 1;

	while (timeout && !signal_pending(current))
		timeout = schedule_timeout_interruptible(timeout);
	return timeout * (1000 / HZ);
}
