/*
 * init_task.c - the boot task, statically allocated.
 *
 * The CPU starts running kernel C code on init_thread_union's stack (see
 * head_32.S), as task 0.  After rest_init() has created init and kthreadd,
 * task 0 becomes the idle task ("swapper"): it runs only when no other
 * task is runnable.
 *
 * init_task also heads the list of all tasks (its @tasks field).
 */
#include <linux/sched.h>
#include <linux/init.h>

/* The boot/idle task's kernel stack: 8 KiB, 8 KiB-aligned, first in .data. */
union thread_union init_thread_union
	__attribute__((section(".data..init_task"), aligned(THREAD_SIZE)));

struct task_struct init_task = {
	.state		= TASK_RUNNING,
	.stack		= &init_thread_union,
	.usage		= { 2 },
	.flags		= PF_KTHREAD,
	.run_list	= LIST_HEAD_INIT(init_task.run_list),
	.tasks		= LIST_HEAD_INIT(init_task.tasks),
	.pid		= 0,
	.parent		= &init_task,
	.children	= LIST_HEAD_INIT(init_task.children),
	.sibling	= LIST_HEAD_INIT(init_task.sibling),
	.wait_chldexit	= __WAIT_QUEUE_HEAD_INITIALIZER(init_task.wait_chldexit),
	.comm		= "swapper",
	.cpu		= 0,
	.cpus_allowed	= CPU_MASK_ALL,
	.oncpu		= 1,
};

/* CPU 0's running task; see asm/current.h. */
DEFINE_PER_CPU(struct task_struct *, current_task) = &init_task;
