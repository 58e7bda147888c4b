/*
 * softirq.c - ksoftirqd, the per-cpu softirq daemon.
 *
 * In Linux, work deferred from interrupt handlers ("softirqs": timers,
 * networking, ...) runs on the way out of an interrupt, and ksoftirqd
 * takes over when there is too much of it.  This kernel runs its timers
 * straight from the timer interrupt and has no softirqs, so ksoftirqd has
 * nothing to do: it wakes once a second to look, like a watchman.
 */
#include <linux/interrupt.h>
#include <linux/kthread.h>
#include <linux/jiffies.h>

static unsigned long softirq_pending;	/* no one raises any: always 0 */

/* The body of ksoftirqd/N: sleep, check, repeat until stopped. */
int ksoftirqd(void *unused)
{
	while (!kthread_should_stop()) {
		schedule_timeout_interruptible(HZ);
		if (softirq_pending)
			softirq_pending = 0;
	}
	return 0;
}

/*
 * spawn_ksoftirqd - start ksoftirqd/N, bound to CPU N, for every online
 * CPU (boot, from kernel_init(), after smp_init()).
 */
int spawn_ksoftirqd(void)
{
	struct task_struct *p;
	int cpu;

	for_each_online_cpu(cpu) {
		p = kthread_create_on_cpu(ksoftirqd, NULL, cpu, "ksoftirqd/%u");
		if (IS_ERR(p))
			return PTR_ERR(p);
		wake_up_process(p);
	}
	return 0;
}
