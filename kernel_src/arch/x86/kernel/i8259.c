/*
 * i8259.c - the two cascaded 8259A programmable interrupt controllers.
 *
 * Ports: master 0x20 (command) / 0x21 (data, the interrupt mask register),
 * slave 0xa0 / 0xa1.  The slave is wired to the master's input 2.
 *
 * Invariant: a bit set in cached_irq_mask is a masked line; the PICs' IMRs
 * always equal the cache.  Only code running with interrupts off changes
 * the mask.
 */
#include <linux/kernel.h>
#include <asm/io.h>
#include <asm/i8259.h>
#include <asm/irqflags.h>

static unsigned int cached_irq_mask = 0xffff;	/* all 16 lines masked */

static void write_masks(void)
{
	outb(cached_irq_mask & 0xff, PIC_MASTER_IMR);
	outb(cached_irq_mask >> 8, PIC_SLAVE_IMR);
}

void enable_8259A_irq(unsigned int irq)
{
	unsigned long flags;

	local_irq_save(flags);
	cached_irq_mask &= ~(1u << irq);
	if (irq >= 8)
		cached_irq_mask &= ~(1u << PIC_CASCADE_IR);
	write_masks();
	local_irq_restore(flags);
}

void disable_8259A_irq(unsigned int irq)
{
	unsigned long flags;

	local_irq_save(flags);
	cached_irq_mask |= 1u << irq;
	write_masks();
	local_irq_restore(flags);
}

/*
 * ack_8259A_irq - end-of-interrupt for @irq: a non-specific EOI (OCW2
 * 0x20) to the slave for lines 8..15, then to the master, which saw the
 * slave's request on its cascade input.
 */
void ack_8259A_irq(unsigned int irq)
{
	if (irq >= 8)
		outb(0x20, PIC_SLAVE_CMD);
	outb(0x20, PIC_MASTER_CMD);
}

/*
 * init_8259A - the ICW1..ICW4 initialisation sequence.
 *
 *   ICW1 0x11  edge triggered, cascade mode, ICW4 follows
 *   ICW2       vector base: 0x20 for the master, 0x28 for the slave
 *   ICW3       master: a slave on input 2 (bit mask 0x04);
 *              slave: its cascade identity, 2
 *   ICW4 0x01  8086 mode, normal (not automatic) EOI
 *
 * All lines are left masked.
 */
void init_8259A(void)
{
	outb(0xff, PIC_MASTER_IMR);
	outb(0xff, PIC_SLAVE_IMR);

	outb(0x11, PIC_MASTER_CMD);
	outb(FIRST_EXTERNAL_VECTOR, PIC_MASTER_IMR);
	outb(1u << PIC_CASCADE_IR, PIC_MASTER_IMR);
	outb(0x01, PIC_MASTER_IMR);

	outb(0x11, PIC_SLAVE_CMD);
	outb(FIRST_EXTERNAL_VECTOR + 8, PIC_SLAVE_IMR);
	outb(PIC_CASCADE_IR, PIC_SLAVE_IMR);
	outb(0x01, PIC_SLAVE_IMR);

	cached_irq_mask = 0xffff;
	write_masks();
}
