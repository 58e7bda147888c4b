#ifndef _ASM_X86_I8259_H
#define _ASM_X86_I8259_H

/* The two cascaded 8259A PICs. */
#define PIC_MASTER_CMD		0x20
#define PIC_MASTER_IMR		0x21
#define PIC_SLAVE_CMD		0xa0
#define PIC_SLAVE_IMR		0xa1
#define PIC_CASCADE_IR		2

#define FIRST_EXTERNAL_VECTOR	0x20	/* IRQ n arrives as vector 0x20 + n */
#define NR_IRQS			16

void init_8259A(void);
void enable_8259A_irq(unsigned int irq);
void disable_8259A_irq(unsigned int irq);
void ack_8259A_irq(unsigned int irq);

#endif
