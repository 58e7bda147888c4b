/*
 * mpparse.c - find the CPUs in the firmware's MP table.
 *
 * find_smp_config() looks for the MP floating pointer "_MP_" where the
 * MP specification 1.4 lets the BIOS put it, in this order:
 *   the first KiB of the EBDA (its segment is the word at 0x40e),
 *   the last KiB of base memory (its size in KiB is the word at 0x413),
 *   the BIOS ROM, 0xf0000 - 0xfffff,
 * on 16-byte boundaries, with a zero checksum.  From the configuration
 * table it points at, it takes the local APIC address and each enabled
 * processor entry: the boot processor becomes CPU 0, the others CPU 1,
 * 2, ... in table order.
 *
 * No floating pointer, a default configuration (no table), a bad table,
 * or only one enabled processor: one CPU, mp_lapic_addr stays 0, and no
 * other part of the kernel behaves differently (the boot on a PC without
 * a table is the same as before this file existed).
 */
#include <linux/kernel.h>
#include <linux/string.h>
#include <linux/cpumask.h>
#include <asm/mpspec.h>
#include <asm/page.h>

unsigned long mp_lapic_addr;
int cpu_to_apicid[NR_CPUS];

static int mpf_checksum(const unsigned char *p, unsigned int len)
{
	unsigned char sum = 0;

	while (len--)
		sum += *p++;
	return sum;
}

/* "_MP_" read as a little-endian word: one compare per 16 bytes scanned. */
#define SMP_MAGIC_IDENT	(('_' << 24) | ('P' << 16) | ('M' << 8) | '_')

/* The floating pointer in physical [@base, @base + @length), or NULL. */
static struct mpf_intel *smp_scan_config(unsigned long base,
					 unsigned long length)
{
	u32 *p = __va(base), *end = __va(base + length);

	for (; p < end; p += 4) {
		struct mpf_intel *mpf = (struct mpf_intel *) p;

		if (*p == SMP_MAGIC_IDENT && mpf->length == 1 &&
		    !mpf_checksum((unsigned char *) mpf, 16))
			return mpf;
	}
	return NULL;
}

static struct mpf_intel *find_mpf(void)
{
	unsigned long ebda = (unsigned long)*(u16 *) __va(0x40e) << 4;
	unsigned long base_kb = *(u16 *) __va(0x413);
	struct mpf_intel *mpf = NULL;

	if (ebda)
		mpf = smp_scan_config(ebda, 1024);
	if (!mpf && base_kb)
		mpf = smp_scan_config(base_kb * 1024 - 1024, 1024);
	if (!mpf)
		mpf = smp_scan_config(0xf0000, 0x10000);
	return mpf;
}

/*
 * Processor entries of @mpc into cpu_to_apicid[]; returns how many
 * enabled ones there are (at most NR_CPUS are kept).
 */
static int read_mpc_cpus(struct mpc_table *mpc)
{
	unsigned char *p = (unsigned char *)(mpc + 1);
	unsigned char *end = (unsigned char *) mpc + mpc->length;
	int ncpus = 1, have_bsp = 0;

	while (p < end) {
		struct mpc_cpu *c = (struct mpc_cpu *) p;

		if (*p != MP_PROCESSOR) {
			p += 8;
			continue;
		}
		p += sizeof(*c);
		if (!(c->cpuflag & CPU_ENABLED))
			continue;
		if (c->cpuflag & CPU_BOOTPROCESSOR) {
			cpu_to_apicid[0] = c->apicid;
			have_bsp = 1;
		} else if (ncpus < NR_CPUS) {
			cpu_to_apicid[ncpus++] = c->apicid;
		} else {
			printk("MP table: more than %d CPUs, APIC id %d ignored\n",
			       NR_CPUS, c->apicid);
		}
	}
	return have_bsp ? ncpus : 0;
}

void find_smp_config(void)
{
	struct mpf_intel *mpf = find_mpf();
	struct mpc_table *mpc;
	int cpu, ncpus;

	if (!mpf || mpf->feature[0] || !mpf->physptr ||
	    mpf->physptr >= MAXMEM)
		return;
	mpc = __va(mpf->physptr);
	if (memcmp(mpc->signature, "PCMP", 4) ||
	    mpf->physptr + mpc->length > MAXMEM ||
	    mpf_checksum((unsigned char *) mpc, mpc->length))
		return;
	ncpus = read_mpc_cpus(mpc);
	if (ncpus < 2)
		return;
	mp_lapic_addr = mpc->lapic;
	for (cpu = 1; cpu < ncpus; cpu++)
		set_cpu_possible(cpu, 1);
	printk("MP table: %d CPUs, local APIC at %08lx\n", ncpus, mp_lapic_addr);
}
