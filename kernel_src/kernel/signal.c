/*
 * signal.c - what little of signals this kernel has.
 *
 * There is no signal delivery.  What remains is the part of a task's
 * signal dispositions that decides how its children die: a parent that
 * ignores SIGCHLD (kthreadd) never waits for them, so do_notify_parent()
 * tells a dying child to release itself (Linux: kernel/signal.c,
 * ignore_signals() and do_notify_parent()).
 */
#include <linux/sched.h>
#include <linux/signal.h>
#include <linux/wait.h>

/*
 * ignore_signals - set every signal of @t to SIG_IGN.  kthreadd calls it
 * for itself; the kthreads it forks inherit it (copy_process()).
 */
void ignore_signals(struct task_struct *t)
{
	t->sig_ignored = ~0UL;
}

/**
 * do_notify_parent - tell @tsk's parent that @tsk is dying.
 * @tsk: the dying task (current)
 * @sig: the signal it asked its parent to get (its exit_signal)
 *
 * Wakes the parent if it sleeps in do_wait().  Returns DEATH_REAP if the
 * parent ignores SIGCHLD and @sig is SIGCHLD: nobody will ever wait for
 * @tsk, so it must release itself.  Otherwise returns @sig and @tsk stays
 * a zombie until its parent reaps it.
 */
int do_notify_parent(struct task_struct *tsk, int sig)
{
	struct task_struct *parent = tsk->parent;

	if (sig == SIGCHLD && (parent->sig_ignored & sigmask(SIGCHLD)))
		sig = DEATH_REAP;
	wake_up_all(&parent->wait_chldexit);
	return sig;
}
