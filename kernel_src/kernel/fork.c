/*
 * fork.c - creating tasks.
 *
 * do_fork() -> copy_process() duplicates the current task_struct,
 * gives the copy its own kernel stack, pid and family links, and lets
 * copy_thread() (arch) set up the registers it starts with; then
 * wake_up_new_task() makes it runnable.  There is no user address space
 * to copy: every task is a kernel thread sharing the kernel's memory
 * (CLONE_VM is implied).
 */
#include <linux/sched.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/gfp.h>
#include <linux/string.h>
#include <linux/err.h>
#include <linux/errno.h>
#include <linux/smp.h>

static pid_t last_pid;

/*
 * Guards the task list, every task's parent/children/sibling links and
 * exit_state, and last_pid: tasks fork and exit on every CPU.  Never
 * taken from an interrupt handler.
 */
DEFINE_SPINLOCK(tasklist_lock);

/* pids are handed out in order and never reused (this kernel never wraps;
 * Linux's alloc_pid() wraps at pid_max and skips pids in use). */
static pid_t alloc_pid(void)
{
	return ++last_pid;
}

/* find_task_by_pid - the live or zombie task with pid @pid, or NULL. */
struct task_struct *find_task_by_pid(pid_t pid)
{
	struct task_struct *p;

	if (pid == 0)
		return &init_task;
	for_each_process(p)
		if (p->pid == pid)
			return p;
	return NULL;
}

/* set_task_comm - rename @tsk (truncated to TASK_COMM_LEN - 1). */
void set_task_comm(struct task_struct *tsk, const char *name)
{
	strlcpy(tsk->comm, name, sizeof(tsk->comm));
}

/* __put_task_struct - free a task whose last reference is gone. */
void __put_task_struct(struct task_struct *t)
{
	BUG_ON(t->exit_state != EXIT_DEAD);
	free_pages((unsigned long) t->stack, THREAD_ORDER);
	kfree(t);
}

static struct task_struct *copy_process(unsigned long clone_flags,
					unsigned long stack_start,
					struct pt_regs *regs,
					unsigned long stack_size)
{
	struct task_struct *p;
	void *stack;
	int err;

	p = kmalloc(sizeof(*p));
	if (!p)
		return ERR_PTR(-ENOMEM);
	stack = (void *) __get_free_pages(THREAD_ORDER);
	if (!stack) {
		kfree(p);
		return ERR_PTR(-ENOMEM);
	}

	*p = *current;		/* comm, flags, sig_ignored: inherited */
	p->stack = stack;
	/* One for the task itself, one for whoever calls release_task(). */
	p->usage.counter = 2;
	p->state = TASK_UNINTERRUPTIBLE;	/* until wake_up_new_task() */
	p->flags &= ~PF_EXITING;
	p->preempt_count = 0;
	INIT_LIST_HEAD(&p->run_list);
	p->on_rq = 0;
	p->exit_state = 0;
	p->exit_code = 0;
	p->exit_signal = clone_flags & CSIGNAL;
	p->vfork_done = NULL;
	INIT_LIST_HEAD(&p->children);
	init_waitqueue_head(&p->wait_chldexit);

	err = copy_thread(clone_flags, stack_start, stack_size, p, regs);
	if (err) {
		free_pages((unsigned long) stack, THREAD_ORDER);
		kfree(p);
		return ERR_PTR(err);
	}

	p->cpu = smp_processor_id();	/* no balancing: the parent's CPU */
	p->oncpu = 0;
	spin_lock(&tasklist_lock);
	p->pid = alloc_pid();
	p->parent = current;
	list_add_tail(&p->sibling, &current->children);
	list_add_tail(&p->tasks, &init_task.tasks);
	spin_unlock(&tasklist_lock);
	return p;
}

/*
 * fork_idle - the idle task of @cpu, which is about to start: a copy of
 * the boot task with a fresh stack, pid 0 and on no list (Linux keeps idle
 * tasks off the task list too).  Returns NULL if memory is short.
 */
struct task_struct *fork_idle(int cpu)
{
	struct task_struct *p = kmalloc(sizeof(*p));
	void *stack = (void *) __get_free_pages(THREAD_ORDER);

	if (!p || !stack) {
		kfree(p);
		if (stack)
			free_pages((unsigned long) stack, THREAD_ORDER);
		return NULL;
	}
	*p = init_task;
	p->stack = stack;
	p->preempt_count = 0;
	INIT_LIST_HEAD(&p->run_list);
	INIT_LIST_HEAD(&p->tasks);
	INIT_LIST_HEAD(&p->children);
	INIT_LIST_HEAD(&p->sibling);
	init_waitqueue_head(&p->wait_chldexit);
	sched_init_idle(p, cpu);
	return p;
}

/**
 * do_fork - create a new task.
 * @clone_flags: CLONE_* flags; the low byte is the exit signal
 * @stack_start: user stack pointer for the child (unused: no user mode)
 * @regs: the registers the child starts with (copied)
 * @stack_size: unused
 * @parent_tidptr: unused
 * @child_tidptr: unused
 *
 * The child is runnable on return.  In this kernel it does not run until
 * the caller (or whoever runs next) calls schedule(); in Linux 2.6.32 CFS
 * places it (task_fork_fair()) and may preempt the parent for it.
 * Returns the child's pid, or a negative errno.
 */
long do_fork(unsigned long clone_flags, unsigned long stack_start,
	     struct pt_regs *regs, unsigned long stack_size,
	     int *parent_tidptr, int *child_tidptr)
{
	struct task_struct *p;

	p = copy_process(clone_flags, stack_start, regs, stack_size);
	if (IS_ERR(p))
		return PTR_ERR(p);
	wake_up_new_task(p);
	return p->pid;
}
