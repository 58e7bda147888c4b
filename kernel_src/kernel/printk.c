/*
 * printk.c - kernel messages: a ring buffer plus the serial console.
 *
 * Every message is appended to log_buf and written to COM1.  log_buf is a
 * ring of LOG_BUF_LEN bytes; log_end counts every byte ever logged, so
 * the newest byte is log_buf[(log_end - 1) & LOG_BUF_MASK] and the buffer
 * holds the last min(log_end, LOG_BUF_LEN) bytes.  Both are plain globals
 * so that a debugger (gdb_scripts) can dump the log of a stopped machine.
 *
 * printk() may be called from interrupt handlers and on any CPU: it holds
 * logbuf_lock with interrupts off, so messages never interleave.
 */
#include <linux/kernel.h>
#include <linux/console.h>
#include <linux/spinlock.h>

#define LOG_BUF_LEN	16384		/* a power of two */
#define LOG_BUF_MASK	(LOG_BUF_LEN - 1)

char log_buf[LOG_BUF_LEN];
unsigned long log_end;
int log_buf_len = LOG_BUF_LEN;

static char printk_buf[1024];

/* One message at a time into log_buf and out of the serial port. */
static DEFINE_SPINLOCK(logbuf_lock);

int vprintk(const char *fmt, va_list args)
{
	unsigned long flags;
	int len, i;

	spin_lock_irqsave(&logbuf_lock, flags);
	len = vsnprintf(printk_buf, sizeof(printk_buf), fmt, args);
	if (len > (int)sizeof(printk_buf) - 1)
		len = sizeof(printk_buf) - 1;
	for (i = 0; i < len; i++)
		log_buf[log_end++ & LOG_BUF_MASK] = printk_buf[i];
	early_serial_write(printk_buf, len);
	spin_unlock_irqrestore(&logbuf_lock, flags);
	return len;
}

/**
 * printk - print a kernel message.
 * @fmt: format string (see lib/vsprintf.c for what it supports)
 *
 * Returns the number of characters printed.
 */
int printk(const char *fmt, ...)
{
	va_list args;
	int r;

	va_start(args, fmt);
	r = vprintk(fmt, args);
	va_end(args);
	return r;
}
