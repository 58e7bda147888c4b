/*
 * irq.c - dispatch hardware interrupts to their handlers.
 *
 * The entry stubs (entry_32.S) push ~vector as orig_ax and call
 * do_IRQ(regs) with interrupts off.  do_IRQ() acknowledges the PIC first
 * (the 8259A accepts no further interrupt of equal or lower priority until
 * it gets its EOI) and then runs the handler registered for the line.
 */
#include <linux/kernel.h>
#include <linux/interrupt.h>
#include <asm/desc.h>
#include <asm/i8259.h>
#include <asm/traps.h>
#include <asm/apic.h>

struct irq_desc {
	irq_handler_t handler;
	const char *name;
	unsigned long count;		/* interrupts seen on this line */
};

static struct irq_desc irq_desc[NR_IRQS];

/**
 * request_irq - install @handler for IRQ line @irq and unmask it.
 * Returns 0, or -1 if the line is out of range or already taken.
 */
int request_irq(unsigned int irq, irq_handler_t handler, const char *name)
{
	if (irq >= NR_IRQS || irq_desc[irq].handler)
		return -1;
	irq_desc[irq].handler = handler;
	irq_desc[irq].name = name;
	enable_8259A_irq(irq);
	return 0;
}

/*
 * do_IRQ - handle one hardware interrupt (called from common_interrupt).
 * @regs: the interrupted context; regs->orig_ax = ~vector
 */
void do_IRQ(struct pt_regs *regs)
{
	unsigned int vector = ~regs->orig_ax;
	unsigned int irq = vector - FIRST_EXTERNAL_VECTOR;
	struct irq_desc *desc;

	if (vector >= LOCAL_TIMER_VECTOR) {	/* from the local APIC */
		smp_apic_interrupt(vector);
		return;
	}
	if (irq >= NR_IRQS) {
		printk("do_IRQ: bad vector %u\n", vector);
		return;
	}
	ack_8259A_irq(irq);
	desc = &irq_desc[irq];
	desc->count++;
	if (desc->handler)
		desc->handler(irq, regs);
	else if (irq != 7 && irq != 15)	/* 7/15: the PICs' spurious IRQs */
		printk("do_IRQ: unexpected IRQ %u\n", irq);
}

/*
 * init_IRQ - program the PICs and point vectors 0x20..0x2f at the stubs.
 * Every line starts masked; request_irq() unmasks it.
 */
void init_IRQ(void)
{
	unsigned int i;

	init_8259A();
	for (i = 0; i < NR_IRQS; i++)
		set_intr_gate(FIRST_EXTERNAL_VECTOR + i, interrupt[i]);
}
