/*
 * apic_entry_32.S - entry stubs for the interrupts a local APIC raises
 * (only with more than one CPU; installed by smp_prepare_cpus()).
 *
 * Each is an IRQ stub like entry_32.S's: push orig_ax = ~vector and jump
 * to common_interrupt, whose do_IRQ() hands every vector from
 * LOCAL_TIMER_VECTOR up to smp_apic_interrupt() (apic.c).  The CFI is
 * RING0_INT_FRAME's: the CPU pushed flags, cs and ip, so a backtrace from
 * the handler unwinds into the interrupted code.
 */
#include <linux/linkage.h>
#include <asm/dwarf2.h>
#include <asm/apic.h>

.macro APIC_STUB name vector
ENTRY(\name)
	CFI_STARTPROC simple
	CFI_DEF_CFA esp, 3*4
	CFI_OFFSET eip, -3*4
	pushl_cfi $~\vector
	jmp common_interrupt
	CFI_ENDPROC
ENDPROC(\name)
.endm

	.text
	APIC_STUB apic_timer_entry, LOCAL_TIMER_VECTOR
	APIC_STUB reschedule_entry, RESCHEDULE_VECTOR
	APIC_STUB spurious_apic_entry, SPURIOUS_APIC_VECTOR
