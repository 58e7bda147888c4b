/*
 * smpboot.c - starting the application processors (APs).
 *
 * Only when the MP table lists more than one CPU (find_smp_config() set
 * mp_lapic_addr); otherwise both entry points return at once and the
 * kernel runs on CPU 0 alone, exactly as a one-CPU kernel.
 *
 * CPU 0, in kernel_init(), calls smp_init(), which runs (as Linux's
 * kernel_init() does one after the other):
 *   smp_prepare_cpus()  maps the local APIC, enables its own, measures
 *                       the APIC timer against the PIT, installs the
 *                       APIC vectors, copies the real-mode trampoline to
 *                       TRAMPOLINE_BASE and builds the start-up page
 *                       directory (initial_page_table);
 *   smp_init()          cpu_up() for each possible CPU, in order, then a
 *                       migration thread for every online CPU.
 * cpu_up(cpu) gives the CPU an idle task (pid 0, on no list), a per-CPU
 * area and a GDT whose __KERNEL_PERCPU descriptor has that area's base,
 * then sends INIT and a STARTUP IPI (vector TRAMPOLINE_BASE >> 12) and
 * sleeps until the CPU marks itself online.  The AP runs trampoline_32.S
 * and start_secondary(), one at a time (stack_start and smp_gdt_descr
 * are for the CPU being started).
 */
#include <linux/kernel.h>
#include <linux/string.h>
#include <linux/sched.h>
#include <linux/gfp.h>
#include <linux/slab.h>
#include <linux/delay.h>
#include <linux/smp.h>
#include <asm/apic.h>
#include <asm/desc.h>
#include <asm/mpspec.h>
#include <asm/page.h>
#include <asm/pgtable.h>
#include <asm/segment.h>
#include <asm/traps.h>
#include <asm/irqflags.h>

/* Where the trampoline runs; its page number is the STARTUP vector. */
#define TRAMPOLINE_BASE		0x6000

/* trampoline_32.S */
extern char trampoline_data[], trampoline_end[];
void startup_32_smp(void);
void spurious_apic_entry(void);
void apic_timer_entry(void);
void reschedule_entry(void);

extern u64 gdt_table[GDT_ENTRIES];	/* head_32.S: CPU 0's GDT */

/* Read by trampoline_32.S for the CPU being started. */
unsigned long initial_page_table;	/* physical */
struct desc_ptr smp_gdt_descr;
unsigned long stack_start;

/*
 * setup_cpu_area - @cpu's per-CPU area: a zeroed copy of .data..percpu
 * (asm/percpu.h) with cpu_number filled in.  From here on per_cpu(x, cpu)
 * works; fork_idle() fills in the scheduler's part.
 */
static void setup_cpu_area(int cpu)
{
	unsigned long size = __per_cpu_end - __per_cpu_start;
	char *area = (char *) __get_free_pages(0);

	BUG_ON(!area || size > PAGE_SIZE);
	memset(area, 0, size);
	__per_cpu_offset[cpu] = area - __per_cpu_start;
	per_cpu(cpu_number, cpu) = cpu;
}

/* A copy of CPU 0's GDT whose __KERNEL_PERCPU segment starts at @base. */
static u64 *cpu_gdt(unsigned long base)
{
	u64 *gdt = kmalloc(sizeof(gdt_table));

	BUG_ON(!gdt);
	memcpy(gdt, gdt_table, sizeof(gdt_table));
	gdt[GDT_ENTRY_PERCPU] = 0x00cf92000000ffffULL |
		((u64)(base & 0xffffff) << 16) | ((u64)(base >> 24) << 56);
	return gdt;
}

static void smp_prepare_cpus(void)
{
	pgd_t *pgd;
	int i;

	init_apic_mappings();
	setup_local_APIC();
	calibrate_APIC_clock();
	set_intr_gate(LOCAL_TIMER_VECTOR, apic_timer_entry);
	set_intr_gate(RESCHEDULE_VECTOR, reschedule_entry);
	set_intr_gate(SPURIOUS_APIC_VECTOR, spurious_apic_entry);

	memcpy(__va(TRAMPOLINE_BASE), trampoline_data,
	       trampoline_end - trampoline_data);
	pgd = (pgd_t *) __get_free_pages(0);
	BUG_ON(!pgd);
	memcpy(pgd, swapper_pg_dir, PAGE_SIZE);
	for (i = 0; i < KERNEL_PGD_PTRS; i++)
		pgd[i] = swapper_pg_dir[KERNEL_PGD_BOUNDARY + i];
	initial_page_table = __pa(pgd);
}

/*
 * cpu_up - start @cpu; returns 0 once it is online, or -1 if it did not
 * come up within a second.  A second STARTUP IPI goes only to a CPU that
 * is not online 10 ms after the first (a CPU that runs ignores SIPIs).
 */
static int cpu_up(int cpu)
{
	struct task_struct *idle;
	int apicid = cpu_to_apicid[cpu], i;

	setup_cpu_area(cpu);
	idle = fork_idle(cpu);
	BUG_ON(!idle);
	per_cpu(current_task, cpu) = idle;
	smp_gdt_descr.size = sizeof(gdt_table) - 1;
	smp_gdt_descr.address = (unsigned long) cpu_gdt(__per_cpu_offset[cpu]);
	stack_start = (unsigned long) idle->stack + THREAD_SIZE;

	apic_send_IPI(apicid, APIC_DM_INIT | APIC_INT_ASSERT);
	msleep(10);
	for (i = 0; i < 100 && !cpu_online(cpu); i++) {
		if (i < 2)
			apic_send_IPI(apicid, APIC_DM_STARTUP |
				      (TRAMPOLINE_BASE >> PAGE_SHIFT));
		msleep(10);
	}
	if (!cpu_online(cpu)) {
		printk("smpboot: CPU %d (APIC id %d) did not start\n", cpu, apicid);
		return -1;
	}
	printk("smpboot: CPU %d (APIC id %d) online\n", cpu, apicid);
	return 0;
}

void smp_init(void)
{
	int cpu;

	if (!mp_lapic_addr)
		return;
	smp_prepare_cpus();
	for_each_possible_cpu(cpu)
		if (cpu != 0 && cpu_up(cpu))
			break;
	printk("smpboot: %d CPUs online\n", num_online_cpus());
	for_each_online_cpu(cpu)
		migration_init_cpu(cpu);
}

/*
 * start_secondary - the first C code of an AP, on its idle task's stack,
 * interrupts off.  Becomes that CPU's idle loop.
 */
void start_secondary(void)
{
	load_idt();
	setup_local_APIC();
	setup_APIC_timer();
	set_cpu_online(smp_processor_id(), 1);
	local_irq_enable();
	cpu_idle();
}
