/*
 * main.c - from the first C instruction to a running system.
 *
 *   start_kernel()   boot task, interrupts off: console, memory, traps,
 *                    IRQs, scheduler, timer; then rest_init()
 *   rest_init()      forks init (pid 1) and kthreadd (pid 2); the boot
 *                    task becomes the idle task (pid 0, "swapper")
 *   kernel_init()    pid 1: starts the other CPUs (if any) and the boot
 *                    kthreads through kthreadd, stops one with
 *                    kthread_stop() (it releases itself), then idles
 *
 * The order things happen in is this kernel's: its scheduler is FIFO and
 * never preempts (kernel/sched.c).  Linux 2.6.32 boots through the same
 * functions, but CFS may order the tasks differently, and it runs
 * initcalls (do_basic_setup()) and then execs /sbin/init.
 *
 * Console lines the test-suite relies on (docs/ARCHITECTURE.md): "kthread:
 * created <comm> pid <N>", "kthreadd: request list empty", "release_task:
 * pid <N> (<comm>) by <comm>", "kthread_stop: <comm> pid <N> returned <R>",
 * and, last, "init: boot complete".
 */
#include <linux/kernel.h>
#include <linux/init.h>
#include <linux/sched.h>
#include <linux/kthread.h>
#include <linux/interrupt.h>
#include <linux/workqueue.h>
#include <linux/console.h>
#include <linux/timer.h>
#include <linux/delay.h>
#include <linux/errno.h>
#include <asm/setup.h>
#include <asm/traps.h>
#include <asm/timex.h>
#include <asm/irqflags.h>

static const char linux_banner[] =
	"Linux version 2.6.32-kthread (teaching kernel; gcc " __VERSION__ ") i386\n";

void oops_test(void);

/* The value kthread_demo hands back to kthread_stop(). */
#define KTHREAD_DEMO_RESULT	42

/*
 * kthread_demo - a kthread that runs until it is stopped.  It wakes every
 * 20 ms to check (kthread_stop()'s wake-up does not cut a sleep short),
 * and returns @data's value to kthread_stop().
 */
static int kthread_demo(void *data)
{
	while (!kthread_should_stop())
		msleep_interruptible(20);
	return (long) data;
}

/*
 * kernel_init - pid 1.  Creates the boot kthreads (each through kthreadd),
 * stops a demo thread, then sleeps forever.  (Linux's kernel_init() runs
 * the initcalls and execs /sbin/init instead.)
 */
static int __init kernel_init(void *unused)
{
	struct task_struct *demo;
	int ret;
	pid_t pid;

	set_task_comm(current, "init");
	child_reaper = current;
	printk("init: running as pid %d\n", current->pid);

	smp_init();			/* only with an MP table listing CPUs */
	spawn_ksoftirqd();
	init_workqueues();

	demo = kthread_run(kthread_demo, (void *) KTHREAD_DEMO_RESULT,
			   "kthread_demo");
	if (IS_ERR(demo))
		panic("init: cannot create kthread_demo");
	if (kthread_create_list_empty())
		printk("kthreadd: request list empty\n");

	msleep(100);			/* let the demo thread run a while */
	pid = demo->pid;
	ret = kthread_stop(demo);
	/* kthread_demo released itself as it exited: its parent, kthreadd,
	 * ignores SIGCHLD.  It never was our child: nothing to wait for.
	 */
	if (ret != KTHREAD_DEMO_RESULT || do_wait(pid, NULL) != -ECHILD)
		panic("init: kthread_demo did not stop and release itself");
	kthread_bug_test();		/* only with "kthread_bug=..." (labs 4, 6) */
	lab5_test();			/* only with "lab5=run" (lab 5) */
	kthread_bench();		/* only with "kthread_bench=N" (bench/) */
	printk("init: boot complete\n");
	oops_test();			/* only with "oops=..." on the command line */
	migrate_test();			/* only with "migrate_test=run" */
	for (;;)
		msleep(1000);
	return 0;
}

/*
 * rest_init - fork the first two tasks, then become the idle task.
 *
 * init must be pid 1 and kthreadd pid 2.  In this kernel neither runs
 * before we call schedule() (inside cpu_idle()): the scheduler never
 * preempts, so kthreadd_task is set before init can ask kthreadd for
 * anything, and init, queued first, runs first.  Linux 2.6.32 cannot rely
 * on that (CFS, other CPUs): rest_init() holds start_kernel()'s big kernel
 * lock until kthreadd_task is set; kernel_init() starts with lock_kernel().
 */
static void __init rest_init(void)
{
	int pid;

	kernel_thread(kernel_init, NULL, CLONE_FS | CLONE_SIGHAND);
	pid = kernel_thread(kthreadd, NULL, CLONE_FS | CLONE_FILES);
	kthreadd_task = find_task_by_pid(pid);

	cpu_idle();
}

/*
 * start_kernel - the first C function, on init_thread_union's stack,
 * with interrupts off (head_32.S).
 */
void __init start_kernel(void)
{
	local_irq_disable();
	early_serial_init();
	printk("%s", linux_banner);

	setup_arch();
	trap_init();
	init_IRQ();
	sched_init();
	init_timers();
	setup_pit_timer();
	printk("PIT: HZ=%d, divisor %d\n", HZ, LATCH);

	local_irq_enable();
	rest_init();
}
