/*
 * traps.c - the IDT, and what happens when the CPU raises an exception.
 *
 * Every exception is fatal in this kernel (no user mode to signal, no
 * demand paging, no exception fixups): do_trap() prints an oops and stops
 * the machine with interrupts off, so the state can be examined with gdb.
 */
#include <linux/kernel.h>
#include <linux/sched.h>
#include <asm/desc.h>
#include <asm/segment.h>
#include <asm/traps.h>
#include <asm/processor.h>
#include <asm/irqflags.h>

struct gate_struct idt_table[IDT_ENTRIES] __aligned(8);

static const struct desc_ptr idt_descr = {
	.size = sizeof(idt_table) - 1,
	.address = (unsigned long) idt_table,
};

/**
 * set_intr_gate - point IDT vector @n at @addr through an interrupt gate.
 *
 * Interrupt gate, DPL 0, present, in __KERNEL_CS: the CPU clears IF on
 * entry, so handlers start with interrupts off.
 */
void set_intr_gate(unsigned int n, void *addr)
{
	unsigned long a = (unsigned long) addr;
	struct gate_struct *g = &idt_table[n];

	g->offset_low = a & 0xffff;
	g->segment = __KERNEL_CS;
	g->reserved = 0;
	g->type_attr = 0x80 | GATE_INTERRUPT;	/* P=1, DPL=0, 32-bit gate */
	g->offset_high = a >> 16;
}

static const char *const trap_names[32] = {
	[0] = "divide error",		[1] = "debug",
	[2] = "nmi",			[3] = "int3",
	[4] = "overflow",		[5] = "bounds",
	[6] = "invalid opcode",		[7] = "device not available",
	[8] = "double fault",		[9] = "coprocessor segment overrun",
	[10] = "invalid TSS",		[11] = "segment not present",
	[12] = "stack segment",		[13] = "general protection fault",
	[14] = "page fault",		[15] = "spurious interrupt bug",
	[16] = "coprocessor error",	[17] = "alignment check",
	[18] = "machine check",		[19] = "simd coprocessor error",
};

static void show_regs(struct pt_regs *regs)
{
	printk("EIP: %04lx:[<%08lx>] EFLAGS: %08lx\n",
	       regs->cs & 0xffff, regs->ip, regs->flags);
	printk("EAX: %08lx EBX: %08lx ECX: %08lx EDX: %08lx\n",
	       regs->ax, regs->bx, regs->cx, regs->dx);
	printk("ESI: %08lx EDI: %08lx EBP: %08lx ESP: %08lx\n",
	       regs->si, regs->di, regs->bp, (unsigned long)&regs->sp);
	printk(" DS: %04lx ES: %04lx FS: %04lx GS: %04lx\n",
	       regs->ds & 0xffff, regs->es & 0xffff,
	       regs->fs & 0xffff, regs->gs & 0xffff);
	printk("Process %s (pid: %d, stack: %p)\n",
	       current->comm, current->pid, current->stack);
}

/*
 * do_trap - C entry for every exception (called from exception_common).
 * @regs: the frame; regs->orig_ax holds the CPU's error code (or 0)
 * @vector: 0..31
 *
 * Reports the exception and stops the machine for good: interrupts stay
 * off and the CPU halts, so the timer no longer ticks and a debugger
 * finds the machine frozen right after the oops.  Never returns.
 */
void do_trap(struct pt_regs *regs, long vector)
{
	long err = regs->orig_ax;
	const char *name = "reserved";

	local_irq_disable();
	regs->orig_ax = -1;
	if (vector >= 0 && vector < 32 && trap_names[vector])
		name = trap_names[vector];

	if (vector == 14)
		printk("BUG: unable to handle kernel paging request at %08lx\n",
		       read_cr2());
	printk("Oops: %s: vector %ld eip %08lx error_code %lx\n",
	       name, vector, regs->ip, (unsigned long) err);
	show_regs(regs);
	printk("---[ end trace ]---\n");
	for (;;)
		halt();
}

/*
 * trap_init - install the exception handlers (vectors 0..31) and load IDTR.
 * Vectors 0x20..0x2f are filled in by init_IRQ().
 */
void trap_init(void)
{
	static void (*const handlers[20])(void) = {
		divide_error, debug, nmi, int3, overflow, bounds, invalid_op,
		device_not_available, double_fault,
		coprocessor_segment_overrun, invalid_TSS,
		segment_not_present, stack_segment, general_protection,
		page_fault, spurious_interrupt_bug, coprocessor_error,
		alignment_check, machine_check, simd_coprocessor_error,
	};
	unsigned int i;

	for (i = 0; i < 20; i++)
		set_intr_gate(i, handlers[i]);
	for (i = 20; i < 32; i++)
		set_intr_gate(i, reserved_exception_stubs[i - 20]);

	load_idt();
}

/* load_idt - make idt_table this CPU's IDT (each CPU loads it once). */
void load_idt(void)
{
	__asm__ __volatile__("lidt %0" : : "m"(idt_descr));
}
