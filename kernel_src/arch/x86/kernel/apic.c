/*
 * apic.c - the local APIC of each CPU: mapping, enabling, timer, IPIs.
 *
 * Only used when the MP table lists more than one CPU (mp_lapic_addr is
 * set): a one-CPU kernel never touches an APIC, and the PIT on IRQ 0 is
 * its only clock.  With more CPUs, CPU 0 keeps the PIT (the PIC delivers
 * to CPU 0 only) and uses its APIC to send and receive IPIs; every other
 * CPU also ticks from its APIC timer, HZ times a second, at the rate
 * CPU 0 measured against the PIT (calibrate_APIC_clock()).
 */
#include <linux/kernel.h>
#include <linux/string.h>
#include <linux/gfp.h>
#include <linux/jiffies.h>
#include <linux/smp.h>
#include <asm/apic.h>
#include <asm/mpspec.h>
#include <asm/page.h>
#include <asm/pgtable.h>
#include <asm/processor.h>
#include <asm/irqflags.h>

/* Mapped at its physical address (init_apic_mappings()). */
static volatile char *apic_base;

/* APIC timer counts (divided by 16) per jiffy, from calibrate_APIC_clock(). */
static u32 apic_ticks_per_jiffy;

/* Local APIC timer interrupts taken on each CPU (gdb: per_cpu). */
static DEFINE_PER_CPU(unsigned long, apic_timer_irqs);

u32 apic_read(unsigned int reg)
{
	return *(volatile u32 *)(apic_base + reg);
}

void apic_write(unsigned int reg, u32 val)
{
	*(volatile u32 *)(apic_base + reg) = val;
}

/*
 * init_apic_mappings - map the APIC page (uncached) at mp_lapic_addr in
 * swapper_pg_dir, which every CPU uses, with a page table of its own.
 */
void init_apic_mappings(void)
{
	unsigned long addr = mp_lapic_addr;
	pte_t *pt = (pte_t *) __get_free_pages(0);

	BUG_ON(!pt || addr < PAGE_OFFSET + MAXMEM || (addr & ~PAGE_MASK));
	memset(pt, 0, PAGE_SIZE);
	pt[(addr >> PAGE_SHIFT) % PTRS_PER_PTE] =
		addr | _PAGE_PRESENT | _PAGE_RW | _PAGE_PWT | _PAGE_PCD;
	swapper_pg_dir[addr >> PGDIR_SHIFT] = __pa(pt) | _PAGE_TABLE;
	write_cr3(__pa(swapper_pg_dir));
	apic_base = (volatile char *) addr;
}

/* setup_local_APIC - software-enable this CPU's APIC (SVR bit 8). */
void setup_local_APIC(void)
{
	apic_write(APIC_SPIV, APIC_SPIV_APIC_ENABLED | SPURIOUS_APIC_VECTOR);
}

/*
 * apic_send_IPI - send @icr_low (delivery mode | vector) to the CPU with
 * APIC id @apicid, once the previous IPI has left (delivery status idle).
 * Interrupts are off meanwhile: a handler sending an IPI must not slip in
 * between our ICR2 and ICR writes.
 */
void apic_send_IPI(int apicid, u32 icr_low)
{
	unsigned long flags;

	local_irq_save(flags);
	while (apic_read(APIC_ICR) & APIC_ICR_BUSY)
		cpu_relax();
	apic_write(APIC_ICR2, (u32) apicid << 24);
	apic_write(APIC_ICR, icr_low);
	local_irq_restore(flags);
}

/*
 * calibrate_APIC_clock - on CPU 0, interrupts on, PIT ticking: count how
 * far CPU 0's APIC timer (one-shot, masked, divide by 16) runs down in
 * CALIBRATE_JIFFIES jiffies.  The loops spin without `pause`: a machine
 * may take `pause` as a hint to run another CPU, and this CPU's timer has
 * to count while jiffies advance.  Prints nothing: the count depends on
 * the machine, the console lines must not.
 */
#define CALIBRATE_JIFFIES	2

void calibrate_APIC_clock(void)
{
	unsigned long start;
	u32 count;

	apic_write(APIC_TDCR, APIC_TDR_DIV_16);
	apic_write(APIC_LVTT, APIC_LVT_MASKED | LOCAL_TIMER_VECTOR);
	apic_write(APIC_TMICT, 0xffffffff);
	start = jiffies;
	while (jiffies == start)	/* start on a tick edge */
		barrier();
	count = apic_read(APIC_TMCCT);
	start = jiffies;
	while (jiffies - start < CALIBRATE_JIFFIES)
		barrier();
	apic_ticks_per_jiffy = (count - apic_read(APIC_TMCCT)) / CALIBRATE_JIFFIES;
	apic_write(APIC_TMICT, 0);		/* stop it */
	BUG_ON(apic_ticks_per_jiffy == 0);
}

/* setup_APIC_timer - this CPU's APIC timer: periodic, HZ per second. */
void setup_APIC_timer(void)
{
	apic_write(APIC_TDCR, APIC_TDR_DIV_16);
	apic_write(APIC_LVTT, APIC_LVT_TIMER_PERIODIC | LOCAL_TIMER_VECTOR);
	apic_write(APIC_TMICT, apic_ticks_per_jiffy);
}

/*
 * smp_apic_interrupt - an interrupt from this CPU's local APIC (do_IRQ(),
 * interrupts off).  The timer tick only counts (the scheduler does not
 * preempt; timers run on CPU 0).  A reschedule IPI needs no work either:
 * it ends the hlt of the idle loop, which then finds the task queued on
 * this CPU.  Both end with an EOI; a spurious interrupt must not.
 */
void smp_apic_interrupt(unsigned int vector)
{
	if (vector == SPURIOUS_APIC_VECTOR)
		return;
	if (vector == LOCAL_TIMER_VECTOR)
		per_cpu(apic_timer_irqs, smp_processor_id())++;
	apic_write(APIC_EOI, 0);
}
