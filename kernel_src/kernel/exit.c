/*
 * exit.c - how tasks die and are reaped.
 *
 * A task dies in do_exit(): it records its exit code, completes its
 * vfork_done (kthread_stop() waits there), becomes a zombie and switches
 * away for the last time.  Its task_struct and stack stay allocated until
 * its parent reaps it in do_wait(), which frees both: a zombie is exactly
 * "dead, but its exit code not yet collected".
 *
 * Who reaps: the parent, unless the parent never waits (ignore_signals(),
 * i.e. kthreadd): then the child is handed to child_reaper, init.  The
 * same happens to the children of a task that dies before them.
 */
#include <linux/sched.h>
#include <linux/kernel.h>
#include <linux/errno.h>
#include <linux/wait.h>

/* init (pid 1); set by kernel_init(). */
struct task_struct *child_reaper;

static void reparent(struct task_struct *p, struct task_struct *parent)
{
	list_del(&p->sibling);
	p->parent = parent;
	list_add_tail(&p->sibling, &parent->children);
}

/* Give all of @father's children to the child reaper. */
static void forget_original_parent(struct task_struct *father)
{
	struct task_struct *p, *n;

	list_for_each_entry_safe(p, n, &father->children, sibling) {
		reparent(p, child_reaper);
		if (p->exit_state == EXIT_ZOMBIE)
			wake_up_all(&child_reaper->wait_chldexit);
	}
}

/*
 * exit_notify - turn @tsk into a zombie and tell whoever will reap it.
 * Called with interrupts off, by @tsk itself.
 */
static void exit_notify(struct task_struct *tsk)
{
	struct task_struct *parent;

	forget_original_parent(tsk);
	if (tsk->parent->ignore_sigchld && child_reaper)
		reparent(tsk, child_reaper);
	parent = tsk->parent;
	tsk->exit_state = EXIT_ZOMBIE;
	wake_up_all(&parent->wait_chldexit);
}

/**
 * do_exit - terminate the current task.
 * @code: exit code, readable by the reaper (and by kthread_stop())
 *
 * Never returns.  The idle task and init must not exit.
 */
void do_exit(long code)
{
	struct task_struct *tsk = current;

	if (tsk->pid <= 1)
		panic("Attempted to kill %s!", tsk->pid ? "init" : "the idle task");

	tsk->flags |= PF_EXITING;
	tsk->exit_code = code;

	/*
	 * Wake kthread_stop(), if it waits.  It cannot run before we are a
	 * zombie: it needs the CPU, and we keep it until schedule() below.
	 */
	if (tsk->vfork_done)
		complete(tsk->vfork_done);

	local_irq_disable();
	exit_notify(tsk);
	tsk->state = TASK_DEAD;
	schedule();
	BUG();		/* a dead task was scheduled again */
	for (;;)
		;
}

/* release_task - free a reaped zombie. */
static void release_task(struct task_struct *p)
{
	p->exit_state = EXIT_DEAD;
	list_del(&p->sibling);
	list_del(&p->tasks);
	put_task_struct(p);
}

static pid_t wait_task_zombie(struct task_struct *p, int *exit_code)
{
	pid_t pid = p->pid;

	if (exit_code)
		*exit_code = p->exit_code;
	printk("reaped pid %d (%s)\n", pid, p->comm);
	release_task(p);
	return pid;
}

/**
 * do_wait - wait for a child to die and reap it.
 * @pid: the child to wait for, or -1 for any child
 * @exit_code: where to store its exit code (may be NULL)
 *
 * Sleeps until a matching child is a zombie, then frees it.  Returns its
 * pid, or -ECHILD if the caller has no matching child at all.
 */
pid_t do_wait(pid_t pid, int *exit_code)
{
	struct task_struct *tsk = current, *p;
	DEFINE_WAIT(wait);

	for (;;) {
		int have_child = 0;

		prepare_to_wait(&tsk->wait_chldexit, &wait, TASK_INTERRUPTIBLE);
		list_for_each_entry(p, &tsk->children, sibling) {
			if (pid > 0 && p->pid != pid)
				continue;
			have_child = 1;
			if (p->exit_state == EXIT_ZOMBIE) {
				finish_wait(&tsk->wait_chldexit, &wait);
				return wait_task_zombie(p, exit_code);
			}
		}
		if (!have_child) {
			finish_wait(&tsk->wait_chldexit, &wait);
			return -ECHILD;
		}
		schedule();
	}
}
