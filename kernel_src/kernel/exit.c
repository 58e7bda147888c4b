/*
 * exit.c - how tasks die and are released.
 *
 * A task dies in do_exit(): it records its exit code, completes its
 * vfork_done (kthread_stop() waits there) and, in exit_notify(), tells its
 * parent (do_notify_parent()).  Then it switches away for the last time.
 *
 * What happens to its task_struct depends on the parent, as in Linux:
 *  - a parent that ignores SIGCHLD (kthreadd: ignore_signals()) will
 *    never wait, so the task becomes EXIT_DEAD and calls release_task()
 *    on itself.  Every kthread dies this way: it is never a zombie and
 *    never anybody else's child; do_wait() for it returns -ECHILD.
 *  - any other parent is expected to wait: the task stays a zombie
 *    (EXIT_ZOMBIE) until the parent's do_wait() releases it.
 * release_task() unlinks the task and drops one reference; the memory
 * goes at the last put_task_struct() (the switch away from the dead task,
 * or a holder such as kthread_stop(), whichever comes last).
 *
 * Children of a dying task go to the child reaper, init.
 */
#include <linux/sched.h>
#include <linux/kernel.h>
#include <linux/errno.h>
#include <linux/signal.h>
#include <linux/wait.h>

/* init (pid 1); set by kernel_init(). */
struct task_struct *child_reaper;

/* Give all of @father's children to the child reaper. */
static void forget_original_parent(struct task_struct *father)
{
	struct task_struct *p, *n;

	list_for_each_entry_safe(p, n, &father->children, sibling) {
		list_move_tail(&p->sibling, &child_reaper->children);
		p->parent = child_reaper;
		if (p->exit_state == EXIT_ZOMBIE)
			wake_up_all(&child_reaper->wait_chldexit);
	}
}

/**
 * release_task - unlink a dead task and drop the reference for its release.
 * @p: an EXIT_DEAD task: current itself (self-reaping) or a reaped zombie
 *
 * After this @p is in no list; its memory stays until the last
 * put_task_struct().
 */
void release_task(struct task_struct *p)
{
	printk("release_task: pid %d (%s) by %s\n", p->pid, p->comm,
	       current->comm);
	spin_lock(&tasklist_lock);
	list_del(&p->sibling);
	list_del(&p->tasks);
	spin_unlock(&tasklist_lock);
	put_task_struct(p);
}

/* exit_notify - tell @tsk's parent; release @tsk if nobody will wait. */
static void exit_notify(struct task_struct *tsk)
{
	int signal;

	spin_lock(&tasklist_lock);
	forget_original_parent(tsk);
	signal = do_notify_parent(tsk, tsk->exit_signal);
	tsk->exit_state = signal == DEATH_REAP ? EXIT_DEAD : EXIT_ZOMBIE;
	spin_unlock(&tasklist_lock);

	if (signal == DEATH_REAP)	/* nobody will wait: release ourselves */
		release_task(tsk);
}

/**
 * do_exit - terminate the current task.
 * @code: exit code, readable by kthread_stop() (and by a reaper)
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
	 * Wake kthread_stop(), if it waits.  On another CPU it may run at
	 * once: it holds a reference to us (get_task_struct()), so its
	 * put_task_struct() or ours, whichever comes last, frees the task.
	 */
	if (tsk->vfork_done)
		complete(tsk->vfork_done);

	local_irq_disable();
	exit_notify(tsk);
	tsk->state = TASK_DEAD;
	schedule();	/* the next task drops our own reference */
	BUG();		/* a dead task was scheduled again */
	for (;;)
		;
}

static pid_t wait_task_zombie(struct task_struct *p, int *exit_code)
{
	pid_t pid = p->pid;

	if (exit_code)
		*exit_code = p->exit_code;
	p->exit_state = EXIT_DEAD;
	release_task(p);
	return pid;
}

/**
 * do_wait - wait for a child to die and reap it.
 * @pid: the child to wait for, or -1 for any child
 * @exit_code: where to store its exit code (may be NULL)
 *
 * Sleeps until a matching child is a zombie, then releases it.  Returns
 * its pid, or -ECHILD if the caller has no matching child at all (a
 * kthread is never one: it releases itself).
 */
pid_t do_wait(pid_t pid, int *exit_code)
{
	struct task_struct *tsk = current, *p;
	DEFINE_WAIT(wait);

	for (;;) {
		int have_child = 0;

		prepare_to_wait(&tsk->wait_chldexit, &wait, TASK_INTERRUPTIBLE);
		spin_lock(&tasklist_lock);
		list_for_each_entry(p, &tsk->children, sibling) {
			if (pid > 0 && p->pid != pid)
				continue;
			have_child = 1;
			if (p->exit_state == EXIT_ZOMBIE) {
				/* Ours to release: nobody else touches a zombie. */
				spin_unlock(&tasklist_lock);
				finish_wait(&tsk->wait_chldexit, &wait);
				return wait_task_zombie(p, exit_code);
			}
		}
		spin_unlock(&tasklist_lock);
		if (!have_child) {
			finish_wait(&tsk->wait_chldexit, &wait);
			return -ECHILD;
		}
		schedule();
	}
}
