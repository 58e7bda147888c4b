#ifndef _ASM_X86_DESC_H
#define _ASM_X86_DESC_H

#include <linux/types.h>

/* The operand of lgdt/lidt: 16-bit limit, 32-bit linear base. */
struct desc_ptr {
	unsigned short size;
	unsigned long address;
} __attribute__((packed));

/*
 * An IDT gate.  We only use 32-bit interrupt gates (type 0xE): the CPU
 * clears IF on entry, so every handler starts with interrupts off.
 */
struct gate_struct {
	u16 offset_low;
	u16 segment;
	u8 reserved;
	u8 type_attr;		/* P | DPL | 0 | type */
	u16 offset_high;
} __attribute__((packed));

#define GATE_INTERRUPT	0xE
#define IDT_ENTRIES	256

extern struct gate_struct idt_table[IDT_ENTRIES];

void set_intr_gate(unsigned int n, void *addr);

#endif
