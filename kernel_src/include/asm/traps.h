#ifndef _ASM_X86_TRAPS_H
#define _ASM_X86_TRAPS_H

#include <asm/ptrace.h>

/*
 * Exception entry points in entry_32.S, installed in the IDT by trap_init().
 * Each pushes an error code (or 0 where the CPU pushes none), builds a
 * pt_regs frame and calls do_trap(regs, vector).
 */
void divide_error(void);
void debug(void);
void nmi(void);
void int3(void);
void overflow(void);
void bounds(void);
void invalid_op(void);
void device_not_available(void);
void double_fault(void);
void coprocessor_segment_overrun(void);
void invalid_TSS(void);
void segment_not_present(void);
void stack_segment(void);
void general_protection(void);
void page_fault(void);
void spurious_interrupt_bug(void);
void coprocessor_error(void);
void alignment_check(void);
void machine_check(void);
void simd_coprocessor_error(void);

/* Vectors 20..31 are reserved by Intel; one stub each, in a table. */
extern void (*reserved_exception_stubs[12])(void);

/* IRQ stubs for vectors 0x20..0x2f, in a table indexed by IRQ number. */
extern void (*interrupt[16])(void);

void trap_init(void);
void load_idt(void);
void do_trap(struct pt_regs *regs, long vector);

#endif
