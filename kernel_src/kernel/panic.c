/*
 * panic.c - stop the machine after an unrecoverable error.
 */
#include <linux/kernel.h>
#include <asm/irqflags.h>

/**
 * panic - print a message and halt forever with interrupts off.
 * @fmt: printf-style message
 */
void panic(const char *fmt, ...)
{
	static char buf[256];
	va_list args;

	local_irq_disable();
	va_start(args, fmt);
	vsnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);
	printk("Kernel panic - not syncing: %s\n", buf);
	for (;;)
		halt();
}
