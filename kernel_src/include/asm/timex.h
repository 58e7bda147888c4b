#ifndef _ASM_X86_TIMEX_H
#define _ASM_X86_TIMEX_H

#include <linux/jiffies.h>

/* The 8253/8254 PIT input clock, Hz. */
#define PIT_TICK_RATE	1193182

/* PIT divisor for HZ interrupts per second: rounded, 11932 at HZ=100. */
#define LATCH		((PIT_TICK_RATE + HZ / 2) / HZ)

void setup_pit_timer(void);

#endif
