/*
 * kthread.c - kernel threads made to order by kthreadd.
 *
 * kthread_create() does not fork: it queues a request on
 * kthread_create_list, wakes kthreadd (pid 2) and waits.  kthreadd forks
 * each request with kernel_thread(), so every kthread is a child of
 * kthreadd and starts from its clean context, whoever asked for it.
 * A new kthread starts in kthread(): it reports to the requester, sleeps
 * until woken (kthread_run() does that), then runs the requested function.
 */
#include <linux/kthread.h>
#include <linux/string.h>
#include <linux/errno.h>
#include <linux/signal.h>

/* Guards kthread_create_list; taken by requesters and by kthreadd. */
static DEFINE_SPINLOCK(kthread_create_lock);
static LIST_HEAD(kthread_create_list);
struct task_struct *kthreadd_task;

/*
 * struct kthread_create_info - one request, living on the stack of the
 * task that called kthread_create() (which sleeps until it is served).
 * @threadfn, @data: what the new thread should run
 * @result: the new task, or ERR_PTR(); valid once @done completes
 * @done:   completed by the new thread (by create_kthread() if fork failed)
 * @list:   link in kthread_create_list
 */
struct kthread_create_info {
	int (*threadfn)(void *data);
	void *data;
	struct task_struct *result;
	struct completion done;
	struct list_head list;
};

/*
 * struct kthread - the stop handshake, on the kthread's own stack.
 * @should_stop: set by kthread_stop(); @exited: completed by do_exit()
 */
struct kthread {
	int should_stop;
	struct completion exited;
};

#define to_kthread(tsk)	container_of((tsk)->vfork_done, struct kthread, exited)

/**
 * kthread_should_stop - has kthread_stop() been called on this kthread?
 *
 * A kthread's function polls this in its loop; once it returns true the
 * function should clean up and return, and its return value becomes
 * kthread_stop()'s result.  Only valid in a thread made by kthread_create().
 */
int kthread_should_stop(void)
{
	return to_kthread(current)->should_stop;
}

/* The first C function of every kthread (kernel_thread_helper calls it). */
static int kthread(void *_create)
{
	struct kthread_create_info *create = _create;
	int (*threadfn)(void *data) = create->threadfn;
	void *data = create->data;
	struct kthread self;
	int ret = -EINTR;	/* stopped before it was ever woken */

	self.should_stop = 0;
	init_completion(&self.exited);
	current->vfork_done = &self.exited;

	/* Hand ourselves to the requester, then sleep until woken. */
	__set_current_state(TASK_UNINTERRUPTIBLE);
	create->result = current;
	complete(&create->done);
	schedule();

	if (!self.should_stop)
		ret = threadfn(data);
	do_exit(ret);
}

static noinline void create_kthread(struct kthread_create_info *create)
{
	int pid;

	/* Fork it; SIGCHLD is what its parent asks to get when it dies. */
	pid = kernel_thread(kthread, create, CLONE_FS | CLONE_FILES | SIGCHLD);
	if (pid < 0) {
		create->result = ERR_PTR(pid);
		complete(&create->done);
	}
}

/**
 * kthread_create - ask kthreadd for a new kernel thread.
 * @threadfn: function the thread will run
 * @data: argument passed to @threadfn
 * @namefmt: printf-style format for the thread's name (its comm)
 *
 * Queues the request, wakes kthreadd and sleeps until the thread exists.
 * The new thread does not run @threadfn yet: it sleeps until someone
 * calls wake_up_process() on it (kthread_run() does both steps).
 *
 * @threadfn either loops until kthread_should_stop() turns true and then
 * returns a value for kthread_stop() to collect (0 or -errno by
 * convention), or, if nobody will ever stop it, calls do_exit() itself.
 *
 * Returns the new task_struct, or an ERR_PTR() if the fork failed.
 */
struct task_struct *kthread_create(int (*threadfn)(void *data),
				   void *data,
				   const char namefmt[],
				   ...)
{
	struct kthread_create_info create;

	create.threadfn = threadfn;
	create.data = data;
	init_completion(&create.done);

	spin_lock(&kthread_create_lock);
	list_add_tail(&create.list, &kthread_create_list);
	spin_unlock(&kthread_create_lock);

	wake_up_process(kthreadd_task);
	wait_for_completion(&create.done);

	if (!IS_ERR(create.result)) {
		va_list args;

		va_start(args, namefmt);
		vsnprintf(create.result->comm, sizeof(create.result->comm),
			  namefmt, args);
		va_end(args);
		/*
		 * root may have changed kthreadd's priority or CPU mask.
		 */
		sched_setscheduler_nocheck(create.result);
		set_cpus_allowed_ptr(create.result, cpu_all_mask);
		printk("kthread: created %s pid %d\n",
		       create.result->comm, create.result->pid);
	}
	return create.result;
}

/**
 * kthread_bind - make a kthread that has not started yet run on @cpu only.
 * @k: a kthread_create() thread, not yet woken (we wait until it is off-CPU)
 * @cpu: an online CPU; @k's cpus_allowed becomes just @cpu
 */
void kthread_bind(struct task_struct *k, unsigned int cpu)
{
	BUG_ON(!cpu_online(cpu) || k->state == TASK_RUNNING);
	wait_task_inactive(k);
	set_task_cpu(k, cpu);
	k->cpus_allowed = *cpumask_of(cpu);
}

/**
 * kthread_stop - make a kthread return, and collect its result.
 * @k: a thread created by kthread_create()
 *
 * Raises @k's stop flag, wakes it and sleeps until it has exited.  @k
 * releases itself as it exits; our get_task_struct() keeps its memory
 * and exit_code until put_task_struct().  Never stop a self-exiting thread.
 * Returns @k's threadfn() result, or -EINTR if @k was stopped before it
 * was ever woken (threadfn never ran).
 */
int kthread_stop(struct task_struct *k)
{
	struct kthread *kthread;
	int ret;

	get_task_struct(k);
	kthread = to_kthread(k);
	kthread->should_stop = 1;
	wake_up_process(k);
	wait_for_completion(&kthread->exited);
	ret = k->exit_code;
	printk("kthread_stop: %s pid %d returned %d\n", k->comm, k->pid, ret);
	put_task_struct(k);
	return ret;
}

/**
 * kthreadd - the kthread daemon (pid 2): forks queued kthread requests.
 * @unused: ignored (NULL)
 */
int kthreadd(void *unused)
{
	struct kthread_create_info *create;
	set_task_comm(current, "kthreadd");	/* a clean context to inherit */
	ignore_signals(current);
	set_cpus_allowed_ptr(current, cpu_all_mask);
	spin_lock(&kthread_create_lock);
	for (;;) {
		while (list_empty(&kthread_create_list)) {
			set_current_state(TASK_INTERRUPTIBLE);
			spin_unlock(&kthread_create_lock);
			schedule();
			spin_lock(&kthread_create_lock);
		}
		create = list_entry(kthread_create_list.next, typeof(*create), list);
		list_del_init(&create->list);
		spin_unlock(&kthread_create_lock);
		create_kthread(create);
		spin_lock(&kthread_create_lock);
	}

	return 0;
}

/*
 * kthread_create_list_empty - true once kthreadd has taken every pending
 * request off the list (boot code uses it to report that kthreadd is idle).
 */
int kthread_create_list_empty(void)
{
	int empty;

	spin_lock(&kthread_create_lock);
	empty = list_empty(&kthread_create_list);
	spin_unlock(&kthread_create_lock);
	return empty;
}

/**
 * kthread_create_on_cpu - kthread_create() and kthread_bind() in one.
 * @threadfn, @data: as for kthread_create()
 * @cpu: the online CPU the thread will run on
 * @namefmt: the thread's name, with one "%u" for @cpu ("ksoftirqd/%u")
 *
 * The thread sleeps until woken, as from kthread_create().  Returns it,
 * or an ERR_PTR() if the fork failed.
 */
struct task_struct *kthread_create_on_cpu(int (*threadfn)(void *data),
					  void *data, unsigned int cpu,
					  const char *namefmt)
{
	struct task_struct *p = kthread_create(threadfn, data, namefmt, cpu);

	if (!IS_ERR(p))
		kthread_bind(p, cpu);
	return p;
}

/* Lab 6's planted race, only with "kthread_bug=create_race". */
#include "kthread_race.c"
