#ifndef _ASM_X86_IO_H
#define _ASM_X86_IO_H

/* Port I/O: one byte in or out of the 64 KiB I/O space. */

static inline void outb(unsigned char value, unsigned short port)
{
	__asm__ __volatile__("outb %b0, %w1" : : "a"(value), "Nd"(port));
}

static inline unsigned char inb(unsigned short port)
{
	unsigned char value;

	__asm__ __volatile__("inb %w1, %b0" : "=a"(value) : "Nd"(port));
	return value;
}

#endif
