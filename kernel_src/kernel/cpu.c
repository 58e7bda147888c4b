/*
 * cpu.c - the CPU sets (see include/linux/cpumask.h).
 *
 * The boot CPU is possible and online from the first instruction; the MP
 * table parser (arch/x86/kernel/mpparse.c) adds possible CPUs, and each
 * application processor marks itself online once it runs the kernel
 * (start_secondary()).  Writers are the boot CPU and the CPU coming up;
 * a set only grows (no CPU hot-unplug), with a locked `or`, so a reader
 * never sees a half-written mask.
 */
#include <linux/kernel.h>
#include <linux/cpumask.h>

struct cpumask cpu_possible_bits = CPU_MASK_CPU0;
struct cpumask cpu_online_bits = CPU_MASK_CPU0;
const struct cpumask cpu_all_bits = CPU_MASK_ALL;
static const struct cpumask cpu_bit_masks[NR_CPUS] = {
	{ 1UL << 0 }, { 1UL << 1 }, { 1UL << 2 }, { 1UL << 3 },
	{ 1UL << 4 }, { 1UL << 5 }, { 1UL << 6 }, { 1UL << 7 },
};

const struct cpumask *cpumask_of(int cpu)
{
	return &cpu_bit_masks[cpu];
}

static void cpumask_set_cpu_locked(int cpu, struct cpumask *m)
{
	__asm__ __volatile__("lock; orl %1, %0"
			     : "+m"(m->bits) : "r"(1UL << cpu) : "memory");
}

/* Sets only grow here: @possible/@online must be 1. */
void set_cpu_possible(int cpu, int possible)
{
	BUG_ON(!possible || cpu >= NR_CPUS);
	cpumask_set_cpu_locked(cpu, &cpu_possible_bits);
}

void set_cpu_online(int cpu, int online)
{
	BUG_ON(!online || cpu >= NR_CPUS);
	cpumask_set_cpu_locked(cpu, &cpu_online_bits);
}
