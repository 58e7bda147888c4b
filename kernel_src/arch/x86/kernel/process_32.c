/*
 * process_32.c - the architecture half of task creation and switching.
 *
 *   kernel_thread()  build the register frame a new kernel thread starts
 *                    from, and fork it
 *   copy_thread()    give a new task its kernel stack frame and resume
 *                    point (ret_from_fork)
 *   __switch_to()    the C tail of switch_to(): make @next current
 *   cpu_idle()       what task 0 does when nothing else can run
 */
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/kernel.h>
#include <asm/segment.h>
#include <asm/processor-flags.h>
#include <asm/irqflags.h>
#include <asm/system.h>

/* entry_32.S */
void ret_from_fork(void);
void kernel_thread_helper(void);

/**
 * kernel_thread - create a kernel thread.
 * @fn: the function the thread runs
 * @arg: its argument
 * @flags: CLONE_* flags, plus the exit signal for the parent in CSIGNAL
 *
 * The new task starts as if returning from an interrupt into
 * kernel_thread_helper with @fn in %ebx and @arg in %edx, interrupts on;
 * the helper calls @fn(@arg) and then do_exit() with its result.  The
 * frame below is only a template: copy_thread() copies it onto the top of
 * the child's own stack.
 *
 * Returns the child's pid, or a negative errno.
 */
int kernel_thread(int (*fn)(void *), void *arg, unsigned long flags)
{
	struct pt_regs regs;

	memset(&regs, 0, sizeof(regs));

	regs.bx = (unsigned long) fn;
	regs.dx = (unsigned long) arg;

	regs.ds = __USER_DS;
	regs.es = __USER_DS;
	regs.fs = __KERNEL_PERCPU;
	regs.gs = __KERNEL_STACK_CANARY;
	regs.orig_ax = -1;
	regs.ip = (unsigned long) kernel_thread_helper;
	regs.cs = __KERNEL_CS | get_kernel_rpl();
	regs.flags = X86_EFLAGS_IF | X86_EFLAGS_SF | X86_EFLAGS_PF | 0x2;

	/* Ok, create the new process.. */
	return do_fork(flags | CLONE_VM | CLONE_UNTRACED, 0, &regs, 0, NULL, NULL);
}

/**
 * copy_thread - set up the CPU state a new task starts with.
 * @clone_flags: unused here
 * @sp: user stack pointer (no user mode: unused)
 * @unused: unused
 * @p: the new task; p->stack is its fresh thread_union
 * @regs: the register frame the child should "return" with
 *
 * Places a copy of @regs at the top of @p's stack, with ax = 0 (the child
 * sees fork() return 0), and arranges for the first switch_to() into @p
 * to continue at ret_from_fork with %esp at that copy.
 */
int copy_thread(unsigned long clone_flags, unsigned long sp,
		unsigned long unused, struct task_struct *p,
		struct pt_regs *regs)
{
	struct pt_regs *childregs;

	childregs = (struct pt_regs *)((char *)p->stack + THREAD_SIZE) - 1;
	*childregs = *regs;
	childregs->ax = 0;
	childregs->sp = sp;

	p->thread.sp = (unsigned long) childregs;
	p->thread.ip = (unsigned long) ret_from_fork;
	return 0;
}

/*
 * __switch_to - finish a task switch (called by switch_to(), in asm).
 *
 * Runs already on @next's stack; its `ret` goes to next->thread.ip.  All
 * it has to do on this machine is make @next the current task: there is
 * no FPU state, no TSS stack pointer, no TLS to load.  Returns @prev,
 * which switch_to() hands back to schedule() as `last`.
 */
__attribute__((used)) struct task_struct *
__switch_to(struct task_struct *prev, struct task_struct *next)
{
	percpu_write(current_task, next);
	return prev;
}

/*
 * cpu_idle - the idle task's loop.
 *
 * Invariant: the idle task is never on the run queue and always runnable;
 * schedule() picks it when the queue is empty.  The queue test and the
 * halt happen with interrupts off up to the `sti; hlt` pair, so a wakeup
 * from an interrupt cannot be missed between them: the interrupt that
 * makes a task runnable is the one that ends the hlt.
 */
void cpu_idle(void)
{
	for (;;) {
		local_irq_disable();
		if (nr_running() == 0) {
			safe_halt();		/* sti; hlt: returns after an IRQ */
			continue;
		}
		local_irq_enable();
		schedule();
	}
}
