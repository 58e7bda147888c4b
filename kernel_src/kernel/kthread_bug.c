/*
 * kthread_bug.c - a planted bug for lab 4's bug hunt (labs/4-lifetime).
 *
 * Booted with "kthread_bug=lost_complete", init calls kthread_bug_test()
 * right after it has stopped kthread_demo.  It starts a small pool of
 * worker kthreads and waits until every worker has reported that it runs.
 * The code below is wrong in one line: init sleeps forever in
 * wait_for_completion() and never prints "init: boot complete".  Finding
 * that line with gdb is the lab; the answer is in the lab's reference.
 *
 * Without the option kthread_bug_test() only looks at the command line
 * and returns, so the boot is otherwise unchanged.
 */
#include <linux/kernel.h>
#include <linux/string.h>
#include <linux/kthread.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <asm/setup.h>

#define NR_LATE_WORKERS	2

/* Each worker completes this once when it starts; init waits for all. */
static DECLARE_COMPLETION(late_started);

static int late_worker(void *unused)
{
	complete(&late_started);
	while (!kthread_should_stop())
		msleep_interruptible(20);
	return 0;
}

/* Start the pool and return once every worker runs (may be called again). */
static noinline void start_late_workers(void)
{
	struct task_struct *w;
	int i;

	for (i = 0; i < NR_LATE_WORKERS; i++) {
		w = kthread_run(late_worker, NULL, "late/%d", i);
		if (IS_ERR(w))
			panic("init: cannot start late/%d", i);
	}
	init_completion(&late_started);		/* a fresh count for this start */
	for (i = 0; i < NR_LATE_WORKERS; i++)
		wait_for_completion(&late_started);
	printk("init: %d late workers started\n", NR_LATE_WORKERS);
}

void kthread_bug_test(void)
{
	const char *bug = cmdline_get("kthread_bug");

	if (!bug)
		return;
	if (!strncmp(bug, "lost_complete", 13) && (!bug[13] || bug[13] == ' '))
		start_late_workers();
	else if (!strncmp(bug, "create_race", 11) && (!bug[11] || bug[11] == ' '))
		kthread_race_test();		/* lab 6's, kernel/kthread_race.c */
	else
		printk("kthread_bug: unknown bug \"%s\"\n", bug);
}
