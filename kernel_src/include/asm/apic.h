#ifndef _ASM_X86_APIC_H
#define _ASM_X86_APIC_H

/*
 * The local APIC: one per CPU, each CPU seeing its own at the same
 * physical address (mp_lapic_addr, 0xfee00000 on a PC), which this kernel
 * maps at the same virtual address.  The registers used (32 bits each;
 * README "hardware used" lists them for the machine side):
 */
#define APIC_ID		0x20	/* bits 24-31: this CPU's APIC id */
#define APIC_EOI	0xb0	/* write 0: end of the current interrupt */
#define APIC_SPIV	0xf0	/* spurious vector, bit 8: APIC enabled */
#define  APIC_SPIV_APIC_ENABLED	(1 << 8)
#define APIC_ICR	0x300	/* interrupt command, low word: sends */
#define  APIC_DM_FIXED		0x000
#define  APIC_DM_INIT		0x500
#define  APIC_DM_STARTUP	0x600	/* | vector: start at vector << 12 */
#define  APIC_ICR_BUSY		(1 << 12)	/* delivery status: pending */
#define  APIC_INT_ASSERT	(1 << 14)
#define APIC_ICR2	0x310	/* bits 24-31: destination APIC id */
#define APIC_LVTT	0x320	/* timer: vector, bit 16 mask, bit 17 periodic */
#define  APIC_LVT_MASKED	(1 << 16)
#define  APIC_LVT_TIMER_PERIODIC (1 << 17)
#define APIC_TMICT	0x380	/* timer initial count */
#define APIC_TMCCT	0x390	/* timer current count */
#define APIC_TDCR	0x3e0	/* timer divide configuration */
#define  APIC_TDR_DIV_16	0x3

/* Vectors of interrupts the local APICs raise (the PIC's are 0x20-0x2f). */
#define LOCAL_TIMER_VECTOR	0xef
#define RESCHEDULE_VECTOR	0xfc
#define SPURIOUS_APIC_VECTOR	0xff

#ifndef __ASSEMBLY__
#include <linux/types.h>

u32 apic_read(unsigned int reg);
void apic_write(unsigned int reg, u32 val);
void apic_send_IPI(int apicid, u32 icr_low);
void init_apic_mappings(void);
void setup_local_APIC(void);
void calibrate_APIC_clock(void);
void setup_APIC_timer(void);
void smp_apic_interrupt(unsigned int vector);
#endif

#endif
