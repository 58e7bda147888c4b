#ifndef _ASM_X86_CURRENT_H
#define _ASM_X86_CURRENT_H

struct task_struct;

/*
 * The running task.  A plain global (Linux keeps it in a per-cpu variable):
 * gdb can always `print *current_task`.  Only __switch_to() writes it.
 */
extern struct task_struct *current_task;

/*
 * A macro rather than an inline function: when single-stepping, gdb
 * would otherwise stop "inside" get_current() on every line using current.
 */
#define get_current()	(current_task)
#define current		get_current()

#endif
