/*
 * entry_32.S - every way into (and back out of) the kernel's C code that
 * does not start with an ordinary `call`.
 *
 * C prototypes of what this file implements:
 *
 *   void divide_error(void);            vector  0  #DE
 *   void debug(void);                   vector  1  #DB
 *   void nmi(void);                     vector  2  NMI
 *   void int3(void);                    vector  3  #BP
 *   void overflow(void);                vector  4  #OF
 *   void bounds(void);                  vector  5  #BR
 *   void invalid_op(void);              vector  6  #UD
 *   void device_not_available(void);    vector  7  #NM
 *   void double_fault(void);            vector  8  #DF
 *   void coprocessor_segment_overrun(void);  vector 9
 *   void invalid_TSS(void);             vector 10  #TS
 *   void segment_not_present(void);     vector 11  #NP
 *   void stack_segment(void);           vector 12  #SS
 *   void general_protection(void);      vector 13  #GP
 *   void page_fault(void);              vector 14  #PF
 *   void spurious_interrupt_bug(void);  vector 15  (reserved)
 *   void coprocessor_error(void);       vector 16  #MF
 *   void alignment_check(void);         vector 17  #AC
 *   void machine_check(void);           vector 18  #MC
 *   void simd_coprocessor_error(void);  vector 19  #XM
 *   void (*reserved_exception_stubs[12])(void);   vectors 20..31
 *   void (*interrupt[16])(void);        vectors 0x20..0x2f = IRQ 0..15
 *
 *   void ret_from_fork(void);
 *       First code a new task runs, reached from switch_to() with
 *       %eax = the task we switched away from and %esp = the child's
 *       struct pt_regs (see copy_thread()).
 *
 *   void kernel_thread_helper(void);
 *       Where a kernel thread made by kernel_thread() starts: calls
 *       fn(arg) with fn in %ebx and arg in %edx, then do_exit(result).
 *
 * None of these are called from C.  The exception and IRQ entries are
 * reached through the IDT (see trap_init() and init_IRQ()); ret_from_fork
 * and kernel_thread_helper are reached by "returning" to an address that
 * copy_thread() and kernel_thread() planted.
 */

/*
 * ------------------------------------------------------------------------
 * How the CPU enters the kernel
 * ------------------------------------------------------------------------
 *
 * An i386 CPU leaves the code it is running for three reasons:
 *
 *   exceptions   raised by the instruction being executed: a division by
 *                zero (#DE), an undefined opcode (#UD), a bad segment or
 *                privilege violation (#GP), a missing page (#PF), ...
 *                Faults report the address of the faulting instruction,
 *                so returning retries it; traps (#BP, #OF) report the
 *                address of the next instruction.
 *   interrupts   requested by a device through the 8259A PIC: the timer
 *                (IRQ 0), the keyboard (IRQ 1), the serial port (IRQ 4),
 *                ...  They arrive between two instructions, and only while
 *                EFLAGS.IF is set.
 *   `int n`      software interrupts, the system call gate of a real
 *                kernel.  We have no user mode and no system calls.
 *
 * In all three cases the CPU looks up vector n in the Interrupt
 * Descriptor Table (IDTR holds its base and limit; trap_init() loads it
 * with lidt).  Each of our IDT entries is a 32-bit interrupt gate:
 *
 *     offset 31..16 | P DPL 0 1110 000 ----- | selector | offset 15..0
 *
 * naming a code segment (__KERNEL_CS, 0x60) and an offset (the address of
 * one of the stubs below).  For an interrupt gate the CPU then:
 *
 *   1. if the gate's segment is more privileged than the current CPL,
 *      switches to the ring 0 stack named in the TSS and pushes the old
 *      SS and ESP there.  We never run below ring 0, so this never
 *      happens here: the CPU keeps using the current stack;
 *   2. pushes EFLAGS, CS and EIP (12 bytes);
 *   3. for exceptions 8, 10, 11, 12, 13, 14 and 17, pushes a 32-bit
 *      error code (for #PF: bit 0 = protection violation rather than a
 *      missing page, bit 1 = write, bit 2 = user mode; CR2 holds the
 *      faulting linear address);
 *   4. clears EFLAGS.IF (interrupt gate; a trap gate would leave it set),
 *      TF, NT, RF and VM;
 *   5. loads CS:EIP from the gate and starts executing the stub.
 *
 * So when a stub below runs, the stack looks like this, from high to low
 * addresses:
 *
 *        ...                     the interrupted code's stack
 *        [old SS]                only if we came from ring 3
 *        [old ESP]               only if we came from ring 3
 *        EFLAGS
 *        CS
 *        EIP            <------  %esp, if there is no error code
 *        [error code]   <------  %esp, for the vectors listed in 3.
 *
 * Nothing else has been saved.  Every general-purpose register and every
 * data segment register still holds the interrupted code's values; the
 * stub must save them before it clobbers any, and put them all back
 * before `iret`.
 *
 * The way out is `iret`, which pops EIP, CS and EFLAGS (and, when the
 * saved CS is less privileged, ESP and SS as well).  Because EFLAGS comes
 * back from the stack, IF is restored too: an interrupt handler that
 * started with interrupts off returns to code that had them on.
 *
 * ------------------------------------------------------------------------
 * What the entry code builds: struct pt_regs
 * ------------------------------------------------------------------------
 *
 * To let C code see (and change) the interrupted registers, every entry
 * path below turns the hardware frame into a struct pt_regs
 * (include/asm/ptrace.h) by pushing the rest of the registers in a fixed
 * order:
 *
 *   1. the stub pushes one word for orig_ax: the CPU's error code if it
 *      pushed one; otherwise 0 for an exception, or ~vector for an IRQ,
 *      so that do_IRQ() can tell which line fired;
 *   2. SAVE_ALL pushes gs, fs, es, ds, eax, ebp, edi, esi, edx, ecx, ebx.
 *
 * The frame then reads, from %esp upwards:
 *
 *     0(%esp)  bx                       PT_EBX
 *     4(%esp)  cx                       PT_ECX
 *     8(%esp)  dx                       PT_EDX
 *    12(%esp)  si                       PT_ESI
 *    16(%esp)  di                       PT_EDI
 *    20(%esp)  bp                       PT_EBP
 *    24(%esp)  ax                       PT_EAX
 *    28(%esp)  ds                       PT_DS
 *    32(%esp)  es                       PT_ES
 *    36(%esp)  fs                       PT_FS
 *    40(%esp)  gs                       PT_GS
 *    44(%esp)  orig_ax                  PT_ORIG_EAX
 *    48(%esp)  ip      (CPU)            PT_EIP
 *    52(%esp)  cs      (CPU)            PT_CS
 *    56(%esp)  flags   (CPU)            PT_EFLAGS
 *    60(%esp)  sp      (CPU, ring 3)    PT_OLDESP
 *    64(%esp)  ss      (CPU, ring 3)    PT_OLDSS
 *
 * and `movl %esp, %eax` hands the frame to a C handler as its first
 * argument: we compile with -mregparm=3, so the first three arguments of
 * a C function travel in %eax, %edx and %ecx.  That is why the stubs below
 * put a pointer in %eax and a vector number in %edx and need no pushes to
 * call C.
 *
 * The same layout serves a third purpose: a new task starts life by
 * "returning from an interrupt" that never happened.  copy_thread() writes
 * a pt_regs at the top of the child's stack, and ret_from_fork pops it
 * with RESTORE_ALL + iret.  kernel_thread() fills that frame so that the
 * iret lands in kernel_thread_helper with fn in %ebx and arg in %edx.
 *
 * ------------------------------------------------------------------------
 * Register conventions at the C boundary
 * ------------------------------------------------------------------------
 *
 * gcc (i386 SysV ABI) assumes:
 *   - %ebx, %esi, %edi, %ebp and %esp are preserved across a call
 *     (callee-saved); %eax, %ecx, %edx may be clobbered (caller-saved);
 *   - the direction flag is clear on function entry (string instructions
 *     count upwards), hence the `cld` in SAVE_ALL: the interrupted code
 *     may have had DF set;
 *   - %ds, %es and %ss all address the same flat memory.  We keep
 *     %ds = %es = __USER_DS as Linux i386 does: it is a flat ring 3 data
 *     segment, and ring 0 may load it: a data segment's DPL only has to
 *     be numerically >= max(CPL, RPL) = 3, which it is (DPL 3).  %fs
 *     holds __KERNEL_PERCPU, the per-cpu segment of an SMP kernel (flat
 *     here, base 0).  %gs holds the null selector: we build without a
 *     stack protector, which is what would need __KERNEL_STACK_CANARY.
 *
 * Since a C handler preserves the callee-saved registers itself, the
 * entry code would only *need* to save the caller-saved ones.  We save all
 * of them anyway, because the C side wants a complete pt_regs: the oops
 * printer shows every register, and a new task's registers come from a
 * pt_regs too.
 */

/*
 * ------------------------------------------------------------------------
 * A worked example: one timer tick
 * ------------------------------------------------------------------------
 *
 * Suppose the idle task sits in `sti; hlt` (safe_halt()) with %esp = S,
 * and the PIT raises IRQ 0.  Step by step:
 *
 *   1. the PIC, remapped by init_8259A(), presents vector 0x20 to the
 *      CPU; the hlt ends and the CPU delivers the interrupt, because IF
 *      is set;
 *   2. the CPU reads IDT entry 0x20: an interrupt gate to __KERNEL_CS:irq0;
 *   3. same privilege level, no stack switch: it pushes EFLAGS (IF set),
 *      CS = 0x60 and EIP = the instruction after the hlt, clears IF and
 *      jumps to irq0.  %esp = S - 12;
 *   4. irq0 pushes ~0x20 as orig_ax (%esp = S - 16) and jumps to
 *      common_interrupt;
 *   5. SAVE_ALL pushes eleven registers (%esp = S - 60): a complete
 *      struct pt_regs now starts at %esp;
 *   6. do_IRQ(regs) finds IRQ 0, sends the PIC its end-of-interrupt, and
 *      calls timer_interrupt(): jiffies++, then every timer_list whose
 *      expiry has come runs.  A sleeper's timer (schedule_timeout())
 *      calls wake_up_process(), which only marks that task runnable and
 *      queues it;
 *   7. do_IRQ() returns; restore_all pops the registers, drops orig_ax
 *      and irets: %esp = S again, EIP just after the hlt, IF set again;
 *   8. the idle loop sees a runnable task and calls schedule().
 *
 * Note that step 6 never calls schedule(): the task switch of step 8
 * happens in ordinary task context, at a point the idle loop chose.  The
 * same holds when the tick interrupts a kernel thread instead of the
 * idle task: the thread keeps the CPU until it sleeps.
 *
 * The interrupted task's stack must have room for these 60 bytes, plus
 * whatever do_IRQ() and the timer functions use.  That is part of why
 * THREAD_SIZE is 8 KiB and why interrupt handlers must be small.
 */

#include <linux/linkage.h>
#include <asm/segment.h>
#include <asm/ptrace.h>
#include <asm/thread_info.h>
#include <asm/processor-flags.h>
#include <asm/dwarf2.h>

/*
 * SAVE_ALL - push the registers that complete a struct pt_regs.
 *
 * On entry:  the stack holds orig_ax, ip, cs, flags (see above);
 *            every register holds the interrupted code's value.
 * On exit:   %esp points at a complete struct pt_regs;
 *            DF is clear; %ds/%es/%fs hold the kernel's values;
 *            %edx is clobbered (scratch for the segment loads), every
 *            other register still holds its interrupted value.
 *
 * The push order is the reverse of struct pt_regs: the last register
 * pushed (ebx) ends up at the lowest address, offset 0.
 */
.macro SAVE_ALL
	cld
	pushl_cfi %gs
	pushl_cfi %fs
	pushl_cfi %es
	pushl_cfi %ds
	pushl_cfi_reg eax
	pushl_cfi_reg ebp
	pushl_cfi_reg edi
	pushl_cfi_reg esi
	pushl_cfi_reg edx
	pushl_cfi_reg ecx
	pushl_cfi_reg ebx
	movl $(__USER_DS), %edx
	movl %edx, %ds
	movl %edx, %es
	movl $(__KERNEL_PERCPU), %edx
	movl %edx, %fs
.endm

/*
 * RESTORE_REGS - the inverse of SAVE_ALL.
 *
 * On entry:  %esp points at a struct pt_regs.
 * On exit:   every general-purpose and data segment register holds the
 *            value in the frame, and %esp points at orig_ax.
 *
 * Loading a segment register makes the CPU check the selector against the
 * GDT; a frame with a garbage ds/es/fs/gs would fault right here (#GP with
 * the selector as the error code).  kernel_thread() and copy_thread()
 * therefore fill these fields with real selectors.
 */
.macro RESTORE_REGS
	popl_cfi_reg ebx
	popl_cfi_reg ecx
	popl_cfi_reg edx
	popl_cfi_reg esi
	popl_cfi_reg edi
	popl_cfi_reg ebp
	popl_cfi_reg eax
	popl_cfi %ds
	popl_cfi %es
	popl_cfi %fs
	popl_cfi %gs
.endm

/*
 * RESTORE_ALL - leave the kernel through a pt_regs frame.
 *
 * Pops the saved registers, discards orig_ax and irets to frame->ip with
 * frame->cs and frame->flags.  Whatever the C code wrote into the frame is
 * what the CPU resumes with.  In particular frame->flags decides whether
 * interrupts are on afterwards.
 */
.macro RESTORE_ALL
	RESTORE_REGS
	addl $4, %esp			/* drop orig_ax */
	CFI_ADJUST_CFA_OFFSET -4
	iret
.endm

/*
 * Frame macros: CFI (asm/dwarf2.h) so that a backtrace from a handler,
 * e.g. do_timer() under a tick, unwinds through the entry code into the
 * interrupted code (eip in the hardware frame, registers in pt_regs):
 *   RING0_INT_FRAME     the CPU pushed flags, cs, ip: CFA = %esp + 12;
 *   RING0_EC_FRAME      plus an error code or an IRQ stub's orig_ax;
 *   RING0_PTREGS_FRAME  %esp points at a complete struct pt_regs.
 * SAVE_ALL/RESTORE_ALL track pushes and pops.  PTREGS_CALL calls a C
 * handler from a signal frame: the saved eip is where to resume, not a
 * return address, so gdb shows the interrupted line itself (below
 * `<signal handler called>`); a stop in a stub still names the stub.
 */
.macro RING0_INT_FRAME
	CFI_STARTPROC simple
	CFI_DEF_CFA esp, 3*4
	CFI_OFFSET eip, -3*4
.endm

.macro RING0_EC_FRAME
	RING0_INT_FRAME
	CFI_ADJUST_CFA_OFFSET 4
.endm

.macro RING0_PTREGS_FRAME signal=0
	CFI_STARTPROC simple
	.if \signal
	CFI_SIGNAL_FRAME
	.endif
	CFI_DEF_CFA esp, PT_OLDESP
	CFI_OFFSET eip, PT_EIP - PT_OLDESP
	CFI_REL_OFFSET eax, PT_EAX
	CFI_REL_OFFSET ebp, PT_EBP
	CFI_REL_OFFSET edi, PT_EDI
	CFI_REL_OFFSET esi, PT_ESI
	CFI_REL_OFFSET edx, PT_EDX
	CFI_REL_OFFSET ecx, PT_ECX
	CFI_REL_OFFSET ebx, PT_EBX
.endm

.macro PTREGS_CALL func
	CFI_ENDPROC
	RING0_PTREGS_FRAME signal=1
	call \func
.endm

	.text

/*
 * ------------------------------------------------------------------------
 * Returning to the interrupted code
 * ------------------------------------------------------------------------
 *
 * restore_all - the single exit from every entry path in this file.
 *
 * On entry: %esp points at the pt_regs of the code we are going back to.
 *
 * A preemptive kernel would check here whether a reschedule is pending and
 * call schedule() before returning to the interrupted code.  Ours does
 * not: tasks switch only inside schedule(), which only sleeping or
 * yielding code calls.  An interrupt handler may wake a task up, putting
 * it on the run queue, but the interrupted task keeps the CPU until it
 * sleeps or yields.  That makes every run from the same starting point
 * take the same path, and it means kernel code never needs to worry about
 * being switched out between two arbitrary instructions: only interrupt
 * handlers can run in between, and they are short and never sleep.
 */
ENTRY(restore_all)
	RING0_PTREGS_FRAME
	RESTORE_ALL
	CFI_ENDPROC
ENDPROC(restore_all)

/*
 * ret_from_fork - where a new task first runs.
 *
 * Reached from switch_to(), which "returns" here because copy_thread()
 * set child->thread.ip = ret_from_fork and child->thread.sp = the
 * child's struct pt_regs at the top of its kernel stack.  On entry:
 *
 *   %eax  the task switch_to() switched away from (__switch_to()'s result)
 *   %esp  the child's struct pt_regs
 *   IF    clear: schedule() disabled interrupts for the switch
 *
 * schedule_tail(prev) finishes the switch that schedule() began (the
 * same tail schedule() runs after its own switch_to() returns) and turns
 * interrupts back on.  RESTORE_ALL then irets to frame->ip: for a kernel
 * thread, kernel_thread_helper with fn in %ebx and arg in %edx; %eax is
 * frame->ax, which copy_thread() zeroed: the fork "returns 0" in the
 * child, as fork() does in userland.  Nothing called ret_from_fork: its
 * CFI says so, and the backtrace of a task that has never run ends here.
 */
ENTRY(ret_from_fork)
	CFI_STARTPROC
	CFI_UNDEFINED eip		/* a new task: nobody called this */
	call schedule_tail		/* schedule_tail(prev): prev in %eax */
	jmp restore_all
	CFI_ENDPROC
ENDPROC(ret_from_fork)

/*
 * ------------------------------------------------------------------------
 * Hardware interrupts: vectors 0x20..0x2f
 * ------------------------------------------------------------------------
 *
 * init_8259A() programs the master PIC to deliver IRQ 0..7 as vectors
 * 0x20..0x27 and the slave PIC to deliver IRQ 8..15 as 0x28..0x2f, above
 * the 32 vectors Intel reserves for exceptions.  (At power-on the master
 * uses vectors 8..15 and would collide with #DF..#PF.)
 *
 * Each IRQ has a 2-instruction stub that records which vector fired and
 * jumps to common_interrupt:
 *
 *     pushl $~vector       orig_ax = ~vector, a negative number, so that
 *                          orig_ax can never be mistaken for the (small,
 *                          non-negative) error code of an exception
 *     jmp common_interrupt
 *
 * common_interrupt saves the rest of the frame, calls do_IRQ(regs) and
 * leaves through restore_all.  do_IRQ() recovers the IRQ number as
 * ~regs->orig_ax - 0x20, acknowledges it at the PIC and runs the
 * handler registered with request_irq().  For IRQ 0 that is
 * timer_interrupt(), which advances jiffies, runs expired timers and
 * thereby wakes sleeping tasks; it never switches tasks itself.
 *
 * Interrupts stay off for the whole of do_IRQ(): the gate cleared IF and
 * nobody sets it again before the iret.  Handlers therefore never nest.
 */
ENTRY(common_interrupt)
	RING0_EC_FRAME			/* the IRQ stub pushed orig_ax */
	SAVE_ALL
	movl %esp, %eax			/* do_IRQ(regs) */
	PTREGS_CALL do_IRQ
	jmp restore_all
	CFI_ENDPROC
ENDPROC(common_interrupt)

/*
 * The sixteen IRQ stubs, one per PIC input.  Which device sits on which
 * line is fixed by the PC/AT design; the comments say what a PC has
 * there.  Our machine drives only IRQ 0; the PIC keeps the others
 * masked, so their stubs run only if a device misbehaves, in which case
 * do_IRQ() reports an unexpected IRQ.
 */
.macro IRQ_STUB irq
	ALIGN
irq\irq:
	RING0_INT_FRAME
	pushl_cfi $~(0x20 + \irq)
	jmp common_interrupt
	CFI_ENDPROC
.endm

	IRQ_STUB 0		/* 8253 PIT channel 0: the HZ tick */
	IRQ_STUB 1		/* i8042 keyboard controller */
	IRQ_STUB 2		/* cascade from the slave PIC (never raised) */
	IRQ_STUB 3		/* COM2 */
	IRQ_STUB 4		/* COM1 (we poll it, its IRQ stays masked) */
	IRQ_STUB 5		/* LPT2 / sound */
	IRQ_STUB 6		/* floppy controller */
	IRQ_STUB 7		/* LPT1; also the master's spurious IRQ */
	IRQ_STUB 8		/* CMOS real-time clock */
	IRQ_STUB 9		/* ACPI / free */
	IRQ_STUB 10		/* free */
	IRQ_STUB 11		/* free */
	IRQ_STUB 12		/* PS/2 mouse */
	IRQ_STUB 13		/* FPU error (legacy) */
	IRQ_STUB 14		/* primary ATA */
	IRQ_STUB 15		/* secondary ATA; also the slave's spurious IRQ */
END(irq0)

/*
 * interrupt[] - the stub for each IRQ, for init_IRQ() to put in the IDT:
 * interrupt[n] handles vector 0x20 + n.
 */
	.section .rodata, "a"
	.align 4
ENTRY(interrupt)
	.long irq0, irq1, irq2, irq3, irq4, irq5, irq6, irq7
	.long irq8, irq9, irq10, irq11, irq12, irq13, irq14, irq15
END(interrupt)
	.text

/*
 * ------------------------------------------------------------------------
 * Exceptions: vectors 0..31
 * ------------------------------------------------------------------------
 *
 * Every exception stub below is TRAP_STUB vector (the CPU pushes no
 * error code: the stub pushes 0, so the frame always has an orig_ax
 * slot) or TRAP_STUB_EC vector: SAVE_ALL, the vector into %edx, and a
 * jump to exception_common, which calls do_trap(regs, vector) (traps.c) with the
 * frame in %eax.  None of the exceptions are recoverable in this kernel:
 * there is no user mode to send a signal to, no demand paging to fill a
 * missing page, no fixup table to resume a faulting access.  So do_trap()
 * prints an oops (vector, eip, error code, the registers, and cr2 for a
 * page fault) and halts the machine with interrupts off.  It does not
 * return; the jump to restore_all after it is there for the day some
 * handler does.
 *
 * Why one stub per vector instead of one shared handler?  The IDT holds
 * only an address per vector: the CPU does not tell the handler which
 * vector it came through.  The vector number must be baked into the
 * code, so every vector needs its own entry point.  And only some vectors
 * get an error code, so the stubs must differ anyway to keep the frame
 * layout the same for all.
 */
/*
 * The exception vectors at a glance (F = fault, T = trap, A = abort;
 * E = the CPU pushes an error code):
 *
 *    vec  name                    kind  E   typical cause
 *     0   #DE divide error         F        div/idiv by zero
 *     1   #DB debug                F/T      TF single step, DR0-DR3 hit
 *     2   NMI                      -        non-maskable interrupt pin
 *     3   #BP breakpoint           T        int3
 *     4   #OF overflow             T        into with OF set
 *     5   #BR bound range          F        bound
 *     6   #UD invalid opcode       F        ud2, undefined encodings
 *     7   #NM device not available F        FPU use with CR0.TS set
 *     8   #DF double fault         A    E   fault while delivering a fault
 *     9   coprocessor overrun      A        386 + 387 only
 *    10   #TS invalid TSS          F    E   bad TSS in a task/stack switch
 *    11   #NP segment not present  F    E   descriptor with P = 0
 *    12   #SS stack segment        F    E   SS limit or presence
 *    13   #GP general protection   F    E   everything else
 *    14   #PF page fault           F    E   page walk failed; CR2 = address
 *    15   (reserved)
 *    16   #MF x87 FPU error        F        unmasked x87 exception
 *    17   #AC alignment check      F    E   misaligned access at ring 3
 *    18   #MC machine check        A        hardware error
 *    19   #XM SIMD exception       F        unmasked SSE exception
 *    20-31 (reserved)
 *
 * A fault leaves eip at the faulting instruction, so an iret would run
 * it again (after, say, a page-fault handler mapped the page).  A trap
 * leaves eip after the instruction.  An abort does not allow a restart at
 * all.  The distinction matters for a kernel that recovers; ours reports
 * the eip the CPU gave it, whichever kind it was.
 *
 * The oops printed by do_trap() looks like:
 *
 *     Oops: invalid opcode: vector 6 eip c1000123 error_code 0
 *
 * or, for a page fault,
 *
 *     BUG: unable to handle kernel paging request at 00000004
 *     Oops: page fault: vector 14 eip c1000456 error_code 2
 *
 * followed by a register dump and the name of the running task.
 */

.macro TRAP_STUB vector
	RING0_INT_FRAME
	pushl_cfi $0			/* orig_ax: no error code */
	TRAP_STUB_BODY \vector
.endm

.macro TRAP_STUB_EC vector
	RING0_EC_FRAME			/* orig_ax: the CPU's error code */
	TRAP_STUB_BODY \vector
.endm

.macro TRAP_STUB_BODY vector
	SAVE_ALL
	movl $\vector, %edx		/* do_trap()'s second argument */
	jmp exception_common
	CFI_ENDPROC
.endm

ENTRY(exception_common)
	RING0_PTREGS_FRAME
	movl %esp, %eax			/* do_trap(regs, vector) */
	PTREGS_CALL do_trap
	jmp restore_all
	CFI_ENDPROC
ENDPROC(exception_common)

/*
 * Vector 0, #DE, divide error: a `div` or `idiv` by zero, or a quotient
 * too large for the destination register.  A fault: eip is the dividing
 * instruction.  No error code.
 */
ENTRY(divide_error)
	TRAP_STUB 0
ENDPROC(divide_error)

/*
 * Vector 1, #DB, debug: a single-step trap (EFLAGS.TF) or a hit on one of
 * the debug registers DR0..DR3.  A debugger attached through the machine
 * (gdb stub) single-steps and breaks without the guest ever seeing #DB;
 * this vector would fire only if kernel code set TF or DR7 itself.
 */
ENTRY(debug)
	TRAP_STUB 1
ENDPROC(debug)

/*
 * Vector 2, NMI: the non-maskable interrupt pin (memory parity, watchdog).
 * It ignores EFLAGS.IF.  Nothing in our machine raises it.
 */
ENTRY(nmi)
	TRAP_STUB 2
ENDPROC(nmi)

/*
 * Vector 3, #BP, breakpoint: the one-byte `int3` instruction (0xcc).  A
 * trap: eip is the instruction after the int3.  gdb's software
 * breakpoints are int3 bytes written into the code, but our debug stub
 * plants breakpoints outside the guest instead, so the kernel does not
 * see this vector either.
 */
ENTRY(int3)
	TRAP_STUB 3
ENDPROC(int3)

/*
 * Vector 4, #OF, overflow: the `into` instruction with EFLAGS.OF set.
 * A trap.  No error code.
 */
ENTRY(overflow)
	TRAP_STUB 4
ENDPROC(overflow)

/*
 * Vector 5, #BR, bound range exceeded: the `bound` instruction found an
 * index outside its limits.  A fault.  No error code.
 */
ENTRY(bounds)
	TRAP_STUB 5
ENDPROC(bounds)

/*
 * Vector 6, #UD, invalid opcode: the CPU could not decode the instruction
 * at eip, or met `ud2`, the opcode defined to be undefined (0x0f 0x0b).
 * BUG() in a real kernel is a ud2; here kernel_thread_helper ends with
 * one, after do_exit(), which never returns.  A fault.  No error code.
 */
ENTRY(invalid_op)
	TRAP_STUB 6
ENDPROC(invalid_op)

/*
 * Vector 7, #NM, device not available: a floating-point or SSE
 * instruction while CR0.TS or CR0.EM is set.  Lazy FPU switching hangs
 * off this vector in a real kernel; we build with -mno-80387 -mno-sse, so
 * the kernel never executes an FPU instruction.  No error code.
 */
ENTRY(device_not_available)
	TRAP_STUB 7
ENDPROC(device_not_available)

/*
 * Vector 8, #DF, double fault: an exception while the CPU was trying to
 * deliver another one (say, #PF while pushing the frame for a #GP because
 * the stack itself is unmapped).  The CPU pushes an error code, always 0.
 * If delivering #DF fails too, the CPU shuts down (triple fault): the
 * machine resets.  Linux uses a task gate here so that #DF runs on a
 * known-good stack; we keep an interrupt gate, which is enough to report
 * a double fault that was not caused by a broken stack.
 */
ENTRY(double_fault)
	TRAP_STUB_EC 8
ENDPROC(double_fault)

/*
 * Vector 9, coprocessor segment overrun: only the 386 with an external
 * 387 raised it.  Kept so that every vector has an entry.  No error code.
 */
ENTRY(coprocessor_segment_overrun)
	TRAP_STUB 9
ENDPROC(coprocessor_segment_overrun)

/*
 * Vector 10, #TS, invalid TSS: a task switch or a stack switch found a
 * bad TSS.  We load no TSS and never switch privilege levels, so this
 * cannot happen.  Error code: the offending selector.
 */
ENTRY(invalid_TSS)
	TRAP_STUB_EC 10
ENDPROC(invalid_TSS)

/*
 * Vector 11, #NP, segment not present: a segment register was loaded
 * with a selector whose descriptor has P = 0.  Error code: the selector.
 * Our GDT has no such descriptor (its unused slots are all-zero, which
 * the CPU rejects with #GP before it looks at P), so this cannot happen.
 */
ENTRY(segment_not_present)
	TRAP_STUB_EC 11
ENDPROC(segment_not_present)

/*
 * Vector 12, #SS, stack segment fault: a push or pop beyond the limit of
 * SS, or loading SS with a not-present segment.  With flat segments only
 * the second can happen.  Error code: the selector, or 0.
 */
ENTRY(stack_segment)
	TRAP_STUB_EC 12
ENDPROC(stack_segment)

/*
 * Vector 13, #GP, general protection: the catch-all for protection
 * violations.  Loading a segment register with a selector beyond the GDT
 * limit, executing a privileged instruction at ring 3, writing a reserved
 * bit of a control register, an iret to a bad CS, ...  Error code: the
 * selector involved, or 0.
 */
ENTRY(general_protection)
	TRAP_STUB_EC 13
ENDPROC(general_protection)

/*
 * Vector 14, #PF, page fault: the page-table walk for a linear address
 * found a not-present entry, or the access broke the entry's R/W or U/S
 * bit.  CR2 holds the linear address; do_trap() reads it before anything
 * else can fault and overwrite it.  The error code says why:
 *
 *   bit 0  0 = the page was not present, 1 = a protection violation
 *   bit 1  0 = read, 1 = write
 *   bit 2  0 = the CPU was at ring 0, 1 = at ring 3
 *
 * In this kernel all of RAM is mapped from boot on and nothing is ever
 * paged out, so a page fault always means a bad pointer: NULL (the
 * identity map of low memory is gone after boot, so address 0 faults),
 * a freed object, or a stack overflow below the 8 KiB thread_union.
 */
ENTRY(page_fault)
	TRAP_STUB_EC 14
ENDPROC(page_fault)

/*
 * Vector 15 is reserved by Intel.  Old 8259A setups could deliver a
 * spurious IRQ 7 here before the PIC was remapped, hence the name.
 */
ENTRY(spurious_interrupt_bug)
	TRAP_STUB 15
ENDPROC(spurious_interrupt_bug)

/*
 * Vector 16, #MF, x87 floating-point error.  No FPU code here.  No error
 * code.
 */
ENTRY(coprocessor_error)
	TRAP_STUB 16
ENDPROC(coprocessor_error)

/*
 * Vector 17, #AC, alignment check: a misaligned access at ring 3 while
 * CR0.AM and EFLAGS.AC are both set.  Never at ring 0.  Error code: 0.
 */
ENTRY(alignment_check)
	TRAP_STUB_EC 17
ENDPROC(alignment_check)

/*
 * Vector 18, #MC, machine check: the CPU detected a hardware error.
 * Only raised when CR4.MCE is set, which we never do.  No error code.
 */
ENTRY(machine_check)
	TRAP_STUB 18
ENDPROC(machine_check)

/*
 * Vector 19, #XM, SIMD floating-point exception: an unmasked SSE error
 * with CR4.OSXMMEXCPT set.  We never enable SSE.  No error code.
 */
ENTRY(simd_coprocessor_error)
	TRAP_STUB 19
ENDPROC(simd_coprocessor_error)

/*
 * Vectors 20..31: reserved by Intel for future exceptions (later CPUs
 * define 20 as #VE, 21 as #CP with an error code, 30 as AMD's #SX).  We
 * enable none of the features behind them, so each gets the
 * no-error-code shape, generated by a macro since they differ only in
 * the vector number.  If one ever fires, the oops names the vector.
 */
.macro RESERVED_EXCEPTION vector
	ALIGN
reserved_exception_\vector:
	TRAP_STUB \vector
.endm

	RESERVED_EXCEPTION 20
	RESERVED_EXCEPTION 21
	RESERVED_EXCEPTION 22
	RESERVED_EXCEPTION 23
	RESERVED_EXCEPTION 24
	RESERVED_EXCEPTION 25
	RESERVED_EXCEPTION 26
	RESERVED_EXCEPTION 27
	RESERVED_EXCEPTION 28
	RESERVED_EXCEPTION 29
	RESERVED_EXCEPTION 30
	RESERVED_EXCEPTION 31
END(reserved_exception_20)

/*
 * reserved_exception_stubs[] - the stubs for vectors 20..31, for
 * trap_init(): reserved_exception_stubs[n] handles vector 20 + n.
 */
	.section .rodata, "a"
	.align 4
ENTRY(reserved_exception_stubs)
	.long reserved_exception_20, reserved_exception_21
	.long reserved_exception_22, reserved_exception_23
	.long reserved_exception_24, reserved_exception_25
	.long reserved_exception_26, reserved_exception_27
	.long reserved_exception_28, reserved_exception_29
	.long reserved_exception_30, reserved_exception_31
END(reserved_exception_stubs)
	.text

/*
 * ------------------------------------------------------------------------
 * What we leave out, and why
 * ------------------------------------------------------------------------
 *
 * A Linux i386 entry_32.S is several times this size.  The missing parts
 * all follow from the decisions this teaching kernel makes:
 *
 *   - no user mode, hence no system call entry (int $0x80, sysenter), no
 *     ring 3 -> ring 0 stack switch, and no TSS: `ltr` is never executed.
 *     The CPU consults the TSS only to find the ring 0 stack when it
 *     enters the kernel from a less privileged ring, which never happens
 *     here.  Every interrupt arrives at ring 0 and stays on the current
 *     task's kernel stack;
 *   - no preemption, hence no need_resched check on the way out of an
 *     interrupt (see restore_all);
 *   - no signals, hence no "work pending" loop before returning to user
 *     space;
 *   - no vm86 mode, no espfix (the 16-bit stack segment workaround), no
 *     paravirtualisation hooks (every privileged instruction here is the
 *     native one: cli, sti, iret, hlt);
 *   - no FPU state to save or restore: we build with -mno-80387.
 *
 * The instructions this file and its C callers rely on the CPU (or the
 * emulated machine) to implement: pushl/popl of segment registers, the
 * interrupt-gate delivery described above, iret to the same privilege
 * level, cli/sti/hlt, and indirect calls.  The rest of the kernel adds
 * lgdt/lidt, mov to/from %cr0/%cr2/%cr3, in/out on ports 0x20, 0x21,
 * 0xa0, 0xa1, 0x40, 0x43 and 0x3f8-0x3fd (COM1), nothing else.
 */

/*
 * ------------------------------------------------------------------------
 * Interrupts and task context
 * ------------------------------------------------------------------------
 *
 * An interrupt handler runs on the stack of whatever task it interrupted,
 * and `current` still names that task, but the handler is not acting on
 * its behalf.  Hence the rules every handler (do_IRQ() and the functions
 * it calls: timer_interrupt(), run_timers(), the timer callbacks) obeys:
 *
 *   - never sleep: no schedule(), no wait_for_completion(), no msleep().
 *     Sleeping would put the *interrupted* task to sleep, in the middle
 *     of whatever it was doing;
 *   - waking is fine: wake_up_process() and complete() only change a
 *     task's state and queue it; the switch happens later, in task
 *     context;
 *   - data shared with task context is protected by disabling interrupts
 *     on the task side (spin_lock_irqsave()), since on one CPU the
 *     handler can only run when interrupts are on.
 *
 * The scheduler keeps its run queue consistent by taking the same path:
 * schedule() and wake_up_process() disable interrupts while they touch
 * the queue, so a timer callback waking a task can never see (or make) a
 * half-updated list.
 */

/*
 * ------------------------------------------------------------------------
 * The stack of a task that is not running
 * ------------------------------------------------------------------------
 *
 * A task that called schedule() and was switched out has, from the top
 * of its thread_union downwards:
 *
 *     [struct pt_regs]           only if it entered through an interrupt
 *     the C frames of its code   e.g. kthreadd -> schedule
 *     schedule()'s frame
 *     saved EFLAGS               pushed by switch_to()
 *     saved %ebp                 pushed by switch_to()  <-- thread.sp
 *
 * and thread.ip is the label in switch_to() that pops %ebp and EFLAGS and
 * falls back into schedule().  Nothing else is needed: switch_to() tells
 * gcc that every other register is clobbered, so schedule() itself keeps
 * whatever it needs in its own frame.
 *
 * A task that never ran has no C frames at all.  copy_thread() gives it:
 *
 *     [struct pt_regs]           a copy of the parent's regs argument,
 *                                with ax = 0    <-- thread.sp
 *
 * and thread.ip = ret_from_fork.  switch_to() loads that sp and jumps to
 * __switch_to(), whose `ret` pops thread.ip: ret_from_fork runs with %esp
 * pointing at the pt_regs, exactly as restore_all expects.
 *
 * A debugger can show a sleeping task's call chain from thread.sp and
 * thread.ip alone: %ebp is at thread.sp, EFLAGS above it, then the return
 * address into schedule()'s caller chain.  That is what the gdb stub's
 * "tasks as threads" support does.
 *
 * ------------------------------------------------------------------------
 * Reading a frame in gdb
 * ------------------------------------------------------------------------
 *
 * Every handler gets the frame as its first argument, so from a
 * breakpoint in C:
 *
 *     (gdb) break do_IRQ
 *     (gdb) continue
 *     (gdb) print/x *regs                the interrupted registers
 *     (gdb) print ~regs->orig_ax - 0x20  the IRQ number
 *     (gdb) info symbol regs->ip         where the tick landed
 *
 * and from a breakpoint at the first instruction of a stub, before
 * SAVE_ALL has run, the hardware part of the frame is at the top of the
 * stack:
 *
 *     (gdb) x/3xw $esp                   eip, cs, eflags
 *     (gdb) x/4xw $esp                   error code, eip, cs, eflags
 *                                        (vectors 8, 10-14, 17)
 *
 * For a task that is about to start, break at ret_from_fork:
 *
 *     (gdb) print/x *(struct pt_regs *)$esp
 *
 * shows the frame kernel_thread() built, with ip = kernel_thread_helper.
 */

/*
 * ------------------------------------------------------------------------
 * Kernel threads
 * ------------------------------------------------------------------------
 *
 * kernel_thread(fn, arg, flags) (process_32.c) creates a task whose first
 * "return to the interrupted code" lands here.  It builds a struct
 * pt_regs on its own stack:
 *
 *     regs.bx    = fn                   the function to run
 *     regs.dx    = arg                  its argument
 *     regs.ds    = regs.es = __USER_DS
 *     regs.fs    = __KERNEL_PERCPU
 *     regs.gs    = __KERNEL_STACK_CANARY
 *     regs.orig_ax = -1                 "not inside a system call"
 *     regs.ip    = kernel_thread_helper
 *     regs.cs    = __KERNEL_CS
 *     regs.flags = IF | SF | PF | 0x2  interrupts on in the new thread
 *
 * and passes it to do_fork(), whose copy_thread() copies it to the top
 * of the child's stack.  The child's path to fn is then:
 *
 *     schedule()                 in whatever task gives up the CPU
 *       switch_to()              loads the child's sp, "returns" to
 *     ret_from_fork              child->thread.ip
 *       schedule_tail(prev)
 *       RESTORE_ALL              ebx = fn, edx = arg, ..., iret to
 *     kernel_thread_helper       regs.ip, with interrupts enabled
 *       fn(arg)
 *       do_exit(result)
 *
 * By the time fn runs, the pt_regs frame is gone: iret consumed ip, cs
 * and flags, and kernel_thread_helper runs on an otherwise empty stack.
 *
 * What gdb sees.  A debugger unwinding fn's frame finds fn's return
 * address, which points into kernel_thread_helper just after the `call`,
 * and stops there: kernel_thread_helper is the outermost frame of every
 * kernel thread.  Two details make that work:
 *
 *   - `pushl $0` gives the helper a zero "return address" of its own, as
 *     if someone had called it; a frame-pointer based unwinder that walks
 *     past the helper finds 0 and stops;
 *   - the DWARF call-frame information (the .cfi_* directives) declares
 *     the return address of this frame *undefined*: there is no caller.
 *     gdb reads that as "outermost frame" and ends the backtrace cleanly,
 *     without trying to unwind into address 0 and printing a bogus
 *     `#2 0x00000000 in ?? ()`.
 *
 * Calling convention.  We are built with -mregparm=3: fn expects its
 * argument in %eax, so the helper copies arg from %edx to %eax.  The arg
 * is also pushed, so that a function compiled for stack arguments finds
 * it at 4(%esp) too, and so that the frame has a fixed size for the CFI.
 * fn's return value comes back in %eax, which is where do_exit() (also
 * regparm) wants its argument; it is pushed as well for the same reason.
 *
 * do_exit() never returns: the task becomes a zombie and schedule()
 * switches away from it for the last time.  The `ud2` after the call is
 * a tripwire: if do_exit() ever did return, the CPU raises #UD (vector 6)
 * right there, instead of running off the end of the function.
 *
 * The helper is never called from C: its address only ever appears in a
 * pt_regs frame (regs.ip), and its code runs once per kernel thread, at
 * the thread's birth.
 */
ENTRY(kernel_thread_helper)
	pushl $0			/* fake return address for unwinder */
	.cfi_startproc
	.cfi_undefined %eip		/* outermost frame: no caller */
	movl %edx, %eax			/* fn(arg): regparm, arg in %eax */
	pushl %edx
	.cfi_adjust_cfa_offset 4
	call *%ebx
	pushl %eax			/* do_exit(fn's result) */
	.cfi_adjust_cfa_offset 4
	call do_exit
	ud2				/* do_exit() does not return */
	.cfi_endproc
ENDPROC(kernel_thread_helper)
