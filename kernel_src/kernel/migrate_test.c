/*
 * migrate_test.c - "migrate_test=run": watch tasks change CPU.
 *
 * Needs more than one CPU (otherwise it says so).  init starts two
 * kthreads on CPU 0 and sends both to the highest online CPU with
 * set_cpus_allowed_ptr(), the two ways kernel/migration.c moves a task:
 *   mover/self   moves itself while running: migration/0 moves it;
 *   mover/asleep is moved by init before its first run: directly.
 * Each prints the CPU it started on and the one it runs on afterwards.
 */
#include <linux/kernel.h>
#include <linux/string.h>
#include <linux/kthread.h>
#include <linux/smp.h>
#include <asm/setup.h>

struct mover {
	int from;			/* the CPU it was created on */
	int to;				/* where it has to go */
	int self;			/* 1: it moves itself */
	struct completion done;		/* it has reported */
};

static int mover(void *data)
{
	struct mover *m = data;
	int ret = 0;

	if (m->self)
		ret = set_cpus_allowed_ptr(current, cpumask_of(m->to));
	printk("migrate_test: %s created on CPU %d, runs on CPU %d (%d)\n",
	       current->comm, m->from, smp_processor_id(), ret);
	complete(&m->done);
	return 0;
}

static void move_one(const char *name, int self, int to)
{
	struct mover m = { .from = smp_processor_id(), .to = to, .self = self };
	struct task_struct *p;

	init_completion(&m.done);
	p = kthread_create(mover, &m, "mover/%s", name);
	if (IS_ERR(p))
		return;
	if (!self)
		set_cpus_allowed_ptr(p, cpumask_of(to));
	wake_up_process(p);
	wait_for_completion(&m.done);
}

void migrate_test(void)
{
	const char *opt = cmdline_get("migrate_test");

	if (!opt || strncmp(opt, "run", 3))
		return;
	if (num_online_cpus() < 2) {
		printk("migrate_test: needs more than one CPU\n");
		return;
	}
	move_one("self", 1, num_online_cpus() - 1);
	move_one("asleep", 0, num_online_cpus() - 1);
}
