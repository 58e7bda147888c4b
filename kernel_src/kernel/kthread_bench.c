/*
 * kthread_bench.c - a kernel workload for bench/bench_vs_qemu.py.
 *
 * Booted with "kthread_bench=N", init creates and stops N kthreads, one at
 * a time: kthread_run() (a request to kthreadd, which forks the thread),
 * a wait until the thread runs, then kthread_stop() (wake it, wait for its
 * exit code).  Each thread sleeps until it is told to stop and hands back
 * its number.  The line it prints says how many came back with the right
 * one.  Without the option kthread_bench() only looks at the command line
 * and returns.
 */
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/err.h>
#include <linux/completion.h>
#include <asm/setup.h>

/* Each thread completes this as it starts: stopping it before it ran
 * would skip its function (kthread_stop() then returns -EINTR). */
static DECLARE_COMPLETION(bench_started);

static int kthread_bench_fn(void *data)
{
	complete(&bench_started);
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (kthread_should_stop())
			break;
		schedule();
	}
	__set_current_state(TASK_RUNNING);
	return (long) data;
}

void kthread_bench(void)
{
	const char *opt = cmdline_get("kthread_bench");
	long i, n = 0, stopped = 0;

	if (!opt)
		return;
	while (*opt >= '0' && *opt <= '9')
		n = n * 10 + (*opt++ - '0');
	for (i = 0; i < n; i++) {
		struct task_struct *k = kthread_run(kthread_bench_fn, (void *) i,
						    "kbench/%ld", i);
		if (IS_ERR(k)) {
			printk("kthread_bench: kthread_run failed at %ld: %ld\n",
			       i, PTR_ERR(k));
			break;
		}
		wait_for_completion(&bench_started);
		if (kthread_stop(k) == i)
			stopped++;
	}
	printk("kthread_bench: %ld of %ld kthreads created and stopped\n", stopped, n);
}
