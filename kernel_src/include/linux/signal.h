#ifndef _LINUX_SIGNAL_H
#define _LINUX_SIGNAL_H

/*
 * This kernel delivers no signals.  What it keeps of them is each task's
 * dispositions, reduced to "ignored or not" (task_struct.sig_ignored),
 * because one of them decides how a task dies: a parent that ignores
 * SIGCHLD (kthreadd, after ignore_signals()) does not want to hear about
 * its children's deaths, so they release themselves (do_notify_parent()).
 */
#define SIGKILL	9
#define SIGCHLD	17

/* The mask bit of signal @sig (1-based), as in Linux's sigset_t. */
#define sigmask(sig)	(1UL << ((sig) - 1))

/* do_notify_parent() result: the parent will not wait, release yourself. */
#define DEATH_REAP	-1

struct task_struct;
void ignore_signals(struct task_struct *t);
int do_notify_parent(struct task_struct *tsk, int sig);

/* Nothing ever sends a signal here, so none is ever pending. */
static inline int signal_pending(struct task_struct *p)
{
	return 0;
}

#endif
