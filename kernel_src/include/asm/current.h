#ifndef _ASM_X86_CURRENT_H
#define _ASM_X86_CURRENT_H

#include <asm/percpu.h>

struct task_struct;

/*
 * The running task: a per-CPU variable, as in Linux.  CPU 0's copy is the
 * symbol itself, so gdb's `print *current_task` shows CPU 0's task (CPU
 * n's is at &current_task + __per_cpu_offset[n]).  Only __switch_to() and
 * a CPU coming up (start_secondary()) write it.
 */
DECLARE_PER_CPU(struct task_struct *, current_task);

/*
 * A macro rather than an inline function: when single-stepping, gdb
 * would otherwise stop "inside" get_current() on every line using current.
 */
#define get_current()	percpu_read(current_task)
#define current		get_current()

#endif
