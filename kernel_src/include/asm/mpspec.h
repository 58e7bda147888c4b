#ifndef _ASM_X86_MPSPEC_H
#define _ASM_X86_MPSPEC_H

/*
 * The Intel MultiProcessor Specification 1.4 tables a PC firmware leaves
 * in memory (SeaBIOS does; so does our machine with --cpus > 1).  Only
 * what this kernel reads is declared.
 */
#include <linux/types.h>
#include <linux/threads.h>

/* The floating pointer, 16 bytes on a 16-byte boundary. */
struct mpf_intel {
	char signature[4];		/* "_MP_" */
	u32 physptr;			/* the configuration table */
	u8 length;			/* in 16-byte units: 1 */
	u8 specification;		/* 1 = 1.1, 4 = 1.4 */
	u8 checksum;			/* the 16 bytes sum to 0 */
	u8 feature[5];			/* feature[0] != 0: a default config */
} __attribute__((packed));

/* The configuration table header; entries follow it. */
struct mpc_table {
	char signature[4];		/* "PCMP" */
	u16 length;			/* header and entries, in bytes */
	u8 spec;
	u8 checksum;			/* all @length bytes sum to 0 */
	char oem[8];
	char productid[12];
	u32 oemptr;
	u16 oemsize;
	u16 oemcount;			/* number of entries */
	u32 lapic;			/* physical address of every local APIC */
	u32 reserved;
} __attribute__((packed));

#define MP_PROCESSOR	0		/* entry types; a processor entry is */
#define MP_BUS		1		/* 20 bytes, every other type 8 */
#define MP_IOAPIC	2
#define MP_INTSRC	3
#define MP_LINTSRC	4

struct mpc_cpu {
	u8 type;			/* MP_PROCESSOR */
	u8 apicid;
	u8 apicver;
	u8 cpuflag;			/* CPU_ENABLED, CPU_BOOTPROCESSOR */
	u32 cpufeature;
	u32 featureflag;
	u32 reserved[2];
} __attribute__((packed));

#define CPU_ENABLED		1
#define CPU_BOOTPROCESSOR	2

/* Filled by find_smp_config(): */
extern unsigned long mp_lapic_addr;	/* 0 if no MP table was found */
extern int cpu_to_apicid[NR_CPUS];	/* by kernel CPU number */

void find_smp_config(void);

#endif
