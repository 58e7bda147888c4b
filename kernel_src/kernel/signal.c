/*
 * signal.c - what little of signals this kernel has.
 *
 * There is no signal delivery.  The one signal-related behaviour is
 * whether a parent wants to hear about its children's deaths: a parent
 * that ignores SIGCHLD (kthreadd) never calls do_wait(), so exit_notify()
 * hands its dead children to the child reaper (init), which does.
 */
#include <linux/sched.h>
#include <linux/signal.h>

/* ignore_signals - @t will never wait for its children. */
void ignore_signals(struct task_struct *t)
{
	t->ignore_sigchld = 1;
}
