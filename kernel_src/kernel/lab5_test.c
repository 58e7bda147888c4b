/*
 * lab5_test.c - what init does with lab 5's kthreads (kernel/lab5.c).
 *
 * Only with "lab5=run" on the command line: start the pair, let it run for
 * 100 ms, stop it and print what it did.  The grader (labs/5-producer-consumer)
 * reads that line: every item made must have been taken, once, in order.
 */
#include <linux/kernel.h>
#include <linux/string.h>
#include <linux/delay.h>
#include <linux/lab5.h>
#include <asm/setup.h>

void lab5_test(void)
{
	int produced = 0, consumed = 0, sum = 0, err;
	const char *opt = cmdline_get("lab5");

	if (!opt || strncmp(opt, "run", 3))
		return;
	err = lab5_start();
	if (err) {
		printk("lab5: lab5_start() returned %d\n", err);
		return;
	}
	msleep(100);
	err = lab5_stop(&produced, &consumed, &sum);
	printk("lab5: lab5_stop() returned %d: produced %d, consumed %d, sum %d\n",
	       err, produced, consumed, sum);
}
