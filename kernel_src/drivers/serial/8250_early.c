/*
 * 8250_early.c - the console: a 16550 UART on COM1, polled.
 *
 * Registers at 0x3f8 + n:
 *   0  THR  transmit holding register (write) / divisor low (DLAB = 1)
 *   1  IER  interrupt enable (0: none, we poll) / divisor high (DLAB = 1)
 *   2  FCR  FIFO control
 *   3  LCR  line control: 8N1, bit 7 = DLAB
 *   4  MCR  modem control
 *   5  LSR  line status: bit 5 (THRE) = ready for another byte
 */
#include <linux/console.h>
#include <asm/io.h>

#define COM1	0x3f8
#define UART_THR	0
#define UART_IER	1
#define UART_FCR	2
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5
#define UART_LSR_THRE	0x20

void early_serial_init(void)
{
	outb(0x00, COM1 + UART_IER);	/* no interrupts */
	outb(0x80, COM1 + UART_LCR);	/* DLAB on */
	outb(0x01, COM1 + UART_THR);	/* divisor 1: 115200 baud */
	outb(0x00, COM1 + UART_IER);
	outb(0x03, COM1 + UART_LCR);	/* DLAB off, 8 bits, no parity, 1 stop */
	outb(0xc7, COM1 + UART_FCR);	/* FIFOs on and cleared */
	outb(0x03, COM1 + UART_MCR);	/* DTR, RTS */
}

static void serial_putc(char c)
{
	while (!(inb(COM1 + UART_LSR) & UART_LSR_THRE))
		;
	outb(c, COM1 + UART_THR);
}

/* Write @n bytes, turning "\n" into "\r\n" for terminals. */
void early_serial_write(const char *s, unsigned int n)
{
	while (n--) {
		if (*s == '\n')
			serial_putc('\r');
		serial_putc(*s++);
	}
}
