#ifndef _LINUX_SCHED_H
#define _LINUX_SCHED_H

#include <linux/list.h>
#include <linux/wait.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/smp.h>
#include <asm/processor.h>
#include <asm/atomic.h>
#include <asm/current.h>
#include <asm/ptrace.h>
#include <asm/thread_info.h>

/*
 * Task states (the @state field).  A task runs only in TASK_RUNNING; to
 * sleep it sets another state and calls schedule().  wake_up_process()
 * puts it back to TASK_RUNNING and on the run queue.
 */
#define TASK_RUNNING		0
#define TASK_INTERRUPTIBLE	1
#define TASK_UNINTERRUPTIBLE	2
#define TASK_DEAD		64	/* do_exit() is switching away for good */
#define TASK_NORMAL		(TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE)

/* Exit states (the @exit_state field). */
#define EXIT_ZOMBIE		16	/* dead, waiting for its parent to reap it */
#define EXIT_DEAD		32	/* released; freed at its last put_task_struct() */

/* Per-task flags. */
#define PF_EXITING	0x00000004	/* in do_exit() */
#define PF_KTHREAD	0x00200000	/* a kthread, made by kthreadd */
#define PF_NOFREEZE	0x00008000	/* never frozen (no freezer here anyway) */

/* Clone flags, as Linux numbers them. */
#define CSIGNAL		0x000000ff	/* signal to send the parent at exit */
#define CLONE_VM	0x00000100
#define CLONE_FS	0x00000200
#define CLONE_FILES	0x00000400
#define CLONE_SIGHAND	0x00000800
#define CLONE_UNTRACED	0x00800000

#define TASK_COMM_LEN	16

/**
 * struct task_struct - a schedulable thread of control.
 * @state:       TASK_* above; written by the task itself or by a waker
 * @stack:       the task's 8 KiB thread_union (kernel stack)
 * @usage:       references; the task (and its stack) is freed when it
 *               drops to zero.  copy_process() sets 2: one dropped by
 *               release_task(), one by the task switch away from the dead
 *               task (schedule_tail()); kthread_stop() holds a third
 * @flags:       PF_*
 * @preempt_count: depth of spin_lock()/preempt_disable() held
 * @run_list:    link in the run queue while TASK_RUNNING (not for idle)
 * @on_rq:       @run_list is queued
 * @tasks:       link in the list of all tasks, headed by init_task
 * @exit_state:  0, EXIT_ZOMBIE or EXIT_DEAD (see exit.c)
 * @exit_code:   do_exit()'s argument
 * @exit_signal: signal the parent asked for (CSIGNAL bits of clone flags)
 * @pid:         process id; 0 for the idle task
 * @parent:      who is told when we die (do_notify_parent())
 * @children:    our children, linked through their @sibling
 * @wait_chldexit: where we sleep in do_wait() for a child to die
 * @vfork_done:  completed by do_exit(); kthread_stop() waits on it
 * @sig_ignored: signals whose disposition is SIG_IGN, sigmask() bits
 *               (Linux: sighand->action[sig - 1]); inherited at fork
 * @comm:        name, for printk and for gdb
 * @thread:      saved sp/ip while not running
 * @cpu:         the CPU whose run queue the task is on, or runs on, or
 *               will be queued on when woken (set_task_cpu())
 * @cpus_allowed: CPUs the task may run on (set_cpus_allowed_ptr())
 * @oncpu:       1 from the moment a CPU picks the task in schedule() until
 *               the next task on that CPU has finished switching away from
 *               it: its stack and registers are in use (task_oncpu())
 */
struct task_struct {
	volatile long state;
	void *stack;
	atomic_t usage;
	unsigned int flags;
	int preempt_count;

	struct list_head run_list;
	int on_rq;

	struct list_head tasks;

	int exit_state;
	int exit_code;
	int exit_signal;
	pid_t pid;

	struct task_struct *parent;
	struct list_head children;
	struct list_head sibling;
	wait_queue_head_t wait_chldexit;

	struct completion *vfork_done;
	unsigned long sig_ignored;

	char comm[TASK_COMM_LEN];

	struct thread_struct thread;

	int cpu;
	cpumask_t cpus_allowed;
	int oncpu;
};

extern struct task_struct init_task;
extern struct task_struct *kthreadd_task;
extern struct task_struct *child_reaper;
extern spinlock_t tasklist_lock;

/* Set the state before testing the sleep condition (see wait.h). */
#define __set_current_state(state_value)	\
	do { current->state = (state_value); } while (0)
#define set_current_state(state_value)		\
	do { current->state = (state_value); barrier(); } while (0)

static inline void get_task_struct(struct task_struct *t)
{
	atomic_inc(&t->usage);
}

void __put_task_struct(struct task_struct *t);

static inline void put_task_struct(struct task_struct *t)
{
	if (atomic_dec_and_test(&t->usage))
		__put_task_struct(t);
}

void set_task_comm(struct task_struct *tsk, const char *name);

/* kernel/sched.c */
void sched_init(void);
void schedule(void);
void schedule_tail(struct task_struct *prev);
int wake_up_process(struct task_struct *p);
int wake_up_state(struct task_struct *p, unsigned int state);
void wake_up_new_task(struct task_struct *p);
void cpu_idle(void) __attribute__((noreturn));
int nr_running(void);
int sched_setscheduler_nocheck(struct task_struct *p);
void set_task_cpu(struct task_struct *p, int cpu);
void wait_task_inactive(struct task_struct *p);
int set_cpus_allowed_ptr(struct task_struct *p, const struct cpumask *new_mask);
void sched_init_idle(struct task_struct *idle, int cpu);
int migrate_queued_task(struct task_struct *p, int src_cpu, int dest_cpu);
void migration_init_cpu(int cpu);	/* kernel/migration.c */
long schedule_timeout(long timeout);
long schedule_timeout_interruptible(long timeout);
long schedule_timeout_uninterruptible(long timeout);

/* kernel/fork.c */
long do_fork(unsigned long clone_flags, unsigned long stack_start,
	     struct pt_regs *regs, unsigned long stack_size,
	     int *parent_tidptr, int *child_tidptr);
struct task_struct *find_task_by_pid(pid_t pid);
struct task_struct *fork_idle(int cpu);

/* kernel/exit.c */
void do_exit(long code) __attribute__((noreturn));
pid_t do_wait(pid_t pid, int *exit_code);
void release_task(struct task_struct *p);

/* arch/x86/kernel/process_32.c */
int kernel_thread(int (*fn)(void *), void *arg, unsigned long flags);
int copy_thread(unsigned long clone_flags, unsigned long sp,
		unsigned long unused, struct task_struct *p,
		struct pt_regs *regs);

static inline int task_cpu(const struct task_struct *p)
{
	return p->cpu;
}

/* The all-tasks list, headed by the idle task. */
#define for_each_process(p) \
	list_for_each_entry(p, &init_task.tasks, tasks)

#endif
