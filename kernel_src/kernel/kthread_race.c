/*
 * kthread_race.c - lab 6's planted SMP race (labs/6-smp-race).
 *
 * Part of kthread.c, included at its end (as Linux's sched.c includes
 * sched_fair.c), so that it sees kthread_create_list and its lock.
 *
 * Booted with "kthread_bug=create_race", init starts a pool thread on
 * each of the first two CPUs (kthread_create_on_cpu()); each pool creates
 * its workers with kthread_create_many(), which has one mistake.  With
 * one CPU it never shows.  With two, whether it strikes depends on how
 * the CPUs' instructions interleave (the machine's --sched-seed): then a
 * pool sleeps forever and "init: boot complete" never comes.  Finding
 * why is the lab; the answer is in the lab's key.
 */
#define NR_POOLS	2
#define POOL_SIZE	8

/*
 * kthread_create_many - create @n kthreads running @threadfn(@data), named
 * "pool<cpu>/<i>", with one wake-up of kthreadd: every request is queued
 * before kthreadd is woken.  The threads sleep until woken, as from
 * kthread_create().  @tsk[i] gets each thread (or its ERR_PTR()); @n is at
 * most POOL_SIZE.
 */
static noinline void kthread_create_many(struct task_struct **tsk, int n,
					 int (*threadfn)(void *data),
					 void *data)
{
	struct kthread_create_info create[POOL_SIZE];
	int i;

	for (i = 0; i < n; i++) {
		create[i].threadfn = threadfn;
		create[i].data = data;
		init_completion(&create[i].done);
		/* kthreadd takes requests at the head, we add at the tail */
		list_add_tail(&create[i].list, &kthread_create_list);
	}
	wake_up_process(kthreadd_task);
	for (i = 0; i < n; i++) {
		wait_for_completion(&create[i].done);
		tsk[i] = create[i].result;
		if (IS_ERR(tsk[i]))
			continue;
		snprintf(tsk[i]->comm, sizeof(tsk[i]->comm), "pool%d/%d",
			 smp_processor_id(), i);
		printk("kthread: created %s pid %d\n", tsk[i]->comm,
		       tsk[i]->pid);
	}
}

static DECLARE_COMPLETION(pools_done);

static int pool_worker(void *unused)
{
	return 0;
}

/* One per CPU: create and start this CPU's workers, report, wait to be stopped. */
static int pool_thread(void *unused)
{
	struct task_struct *workers[POOL_SIZE];
	int i;

	kthread_create_many(workers, POOL_SIZE, pool_worker, NULL);
	for (i = 0; i < POOL_SIZE; i++)
		if (!IS_ERR(workers[i]))
			wake_up_process(workers[i]);
	complete(&pools_done);
	set_current_state(TASK_INTERRUPTIBLE);
	while (!kthread_should_stop()) {
		schedule();
		set_current_state(TASK_INTERRUPTIBLE);
	}
	__set_current_state(TASK_RUNNING);
	return 0;
}

void kthread_race_test(void)
{
	struct task_struct *pool[NR_POOLS];
	int cpu, n = 0;

	for_each_online_cpu(cpu) {
		if (n == NR_POOLS)
			break;
		pool[n] = kthread_create_on_cpu(pool_thread, NULL, cpu,
						"pool/%u");
		if (IS_ERR(pool[n]))
			panic("init: cannot start pool/%d", cpu);
		n++;
	}
	for (cpu = 0; cpu < n; cpu++)
		wake_up_process(pool[cpu]);
	for (cpu = 0; cpu < n; cpu++)
		wait_for_completion(&pools_done);
	printk("init: %d pool(s) of %d workers started\n", n, POOL_SIZE);
	for (cpu = 0; cpu < n; cpu++)
		kthread_stop(pool[cpu]);
}
