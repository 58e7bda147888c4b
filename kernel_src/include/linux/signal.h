#ifndef _LINUX_SIGNAL_H
#define _LINUX_SIGNAL_H

/*
 * We have no signal delivery.  The only signal number that matters is the
 * one a child's parent asks for at exit (CSIGNAL bits of the clone flags).
 */
#define SIGKILL	9
#define SIGCHLD	17

struct task_struct;
void ignore_signals(struct task_struct *t);

#endif
