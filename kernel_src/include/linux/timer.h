#ifndef _LINUX_TIMER_H
#define _LINUX_TIMER_H

#include <linux/list.h>

/*
 * struct timer_list - a one-shot callback at a given jiffy.
 * @entry:    link in the pending list, kept sorted by @expires
 * @expires:  the jiffies value at (or after) which @function runs
 * @function: called from the timer interrupt, interrupts off; it must not
 *            sleep
 * @data:     argument for @function
 */
struct timer_list {
	struct list_head entry;
	unsigned long expires;
	void (*function)(unsigned long);
	unsigned long data;
};

void init_timer(struct timer_list *timer);
void setup_timer(struct timer_list *timer, void (*fn)(unsigned long),
		 unsigned long data);
void add_timer(struct timer_list *timer);
int del_timer(struct timer_list *timer);
int mod_timer(struct timer_list *timer, unsigned long expires);
int timer_pending(const struct timer_list *timer);

void do_timer(unsigned long ticks);
void run_timers(void);
void init_timers(void);

#endif
