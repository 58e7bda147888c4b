#ifndef _LINUX_CONSOLE_H
#define _LINUX_CONSOLE_H

/* The one console: COM1 (drivers/serial/8250_early.c). */
void early_serial_init(void);
void early_serial_write(const char *s, unsigned int n);

#endif
