#ifndef _LINUX_JIFFIES_H
#define _LINUX_JIFFIES_H

/*
 * jiffies counts timer interrupts since boot; HZ of them make a second.
 * Only the timer interrupt writes it.  Compare with time_after(), which
 * stays correct when the counter wraps.
 */
#define HZ	100

extern volatile unsigned long jiffies;

#define MAX_SCHEDULE_TIMEOUT	((long)(~0UL >> 1))

#define time_after(a, b)	((long)((b) - (a)) < 0)
#define time_before(a, b)	time_after(b, a)
#define time_after_eq(a, b)	((long)((a) - (b)) >= 0)

static inline unsigned long msecs_to_jiffies(unsigned int ms)
{
	return (ms + (1000 / HZ) - 1) / (1000 / HZ);
}

#endif
