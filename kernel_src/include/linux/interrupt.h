#ifndef _LINUX_INTERRUPT_H
#define _LINUX_INTERRUPT_H

#include <asm/ptrace.h>

/*
 * An interrupt handler: runs with interrupts off, on the stack of whatever
 * task was interrupted.  It must not sleep; it may wake tasks up.
 */
typedef void (*irq_handler_t)(unsigned int irq, struct pt_regs *regs);

int request_irq(unsigned int irq, irq_handler_t handler, const char *name);
void do_IRQ(struct pt_regs *regs);
void init_IRQ(void);

/* kernel/softirq.c */
int ksoftirqd(void *unused);
int spawn_ksoftirqd(void);

#endif
