/*
 * i8253.c - the programmable interval timer, our only clock.
 *
 * Channel 0 of the 8253/8254 counts down from LATCH at 1.193182 MHz and
 * raises IRQ 0 each time it wraps: HZ = 100 interrupts per second.
 * Nothing else measures time (no TSC), so a machine that emulates the PIT
 * deterministically makes the whole kernel deterministic.
 *
 * Ports: 0x43 mode/command register, 0x40 channel 0 data.
 */
#include <linux/kernel.h>
#include <linux/interrupt.h>
#include <linux/timer.h>
#include <asm/io.h>
#include <asm/timex.h>

#define PIT_MODE	0x43
#define PIT_CH0		0x40

/*
 * timer_interrupt - IRQ 0.  Advances jiffies and runs expired timers,
 * which may wake sleeping tasks.  It never switches tasks: this kernel is
 * not preemptive; woken tasks run when the current one calls schedule().
 */
static void timer_interrupt(unsigned int irq, struct pt_regs *regs)
{
	do_timer(1);
	run_timers();
}

/*
 * setup_pit_timer - program channel 0 for a periodic interrupt and hook
 * IRQ 0.  Command 0x34: channel 0, access low byte then high byte, mode 2
 * (rate generator), binary counting.
 */
void setup_pit_timer(void)
{
	outb(0x34, PIT_MODE);
	outb(LATCH & 0xff, PIT_CH0);
	outb(LATCH >> 8, PIT_CH0);
	request_irq(0, timer_interrupt, "timer");
}
