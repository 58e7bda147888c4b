#ifndef _LINUX_CPUMASK_H
#define _LINUX_CPUMASK_H

/*
 * cpumask - a set of CPUs, one bit per CPU number (0 .. NR_CPUS - 1).
 *
 * CPU numbers are the kernel's: 0 is the boot CPU, the others are numbered
 * in MP-table order as they are found (smp_found_config()), whatever their
 * APIC ids.  The kernel keeps three sets (kernel/cpu.c):
 *   cpu_possible_mask  CPUs the firmware listed, counted once at boot
 *   cpu_online_mask    CPUs running the kernel; a task runs only on these
 *   cpu_all_mask       every CPU number: "no restriction"
 * A task's cpus_allowed is a cpumask (set_cpus_allowed_ptr()).
 */
#include <linux/threads.h>

struct cpumask {
	unsigned long bits;
};
typedef struct cpumask cpumask_t;

/* Constant addresses, as in Linux (to_cpumask(cpu_online_bits) ...). */
extern struct cpumask cpu_possible_bits, cpu_online_bits;
extern const struct cpumask cpu_all_bits;
#define cpu_possible_mask	((const struct cpumask *) &cpu_possible_bits)
#define cpu_online_mask		((const struct cpumask *) &cpu_online_bits)
#define cpu_all_mask		(&cpu_all_bits)

#define CPU_MASK_ALL	((cpumask_t){ .bits = (1UL << NR_CPUS) - 1 })
#define CPU_MASK_CPU0	((cpumask_t){ .bits = 1UL })

static inline int cpumask_test_cpu(int cpu, const struct cpumask *m)
{
	return (m->bits >> cpu) & 1;
}

static inline void cpumask_set_cpu(int cpu, struct cpumask *m)
{
	m->bits |= 1UL << cpu;
}

static inline int cpumask_intersects(const struct cpumask *a,
				     const struct cpumask *b)
{
	return (a->bits & b->bits) != 0;
}

/* The lowest CPU in both @a and @b, or NR_CPUS if there is none. */
static inline int cpumask_any_and(const struct cpumask *a,
				  const struct cpumask *b)
{
	unsigned long both = a->bits & b->bits;

	return both ? __builtin_ctzl(both) : NR_CPUS;
}

static inline int cpumask_weight(const struct cpumask *m)
{
	unsigned long bits = m->bits;
	int n = 0;

	for (; bits; bits &= bits - 1)	/* clears the lowest set bit */
		n++;
	return n;
}

#define for_each_cpu(cpu, mask)				\
	for ((cpu) = 0; (cpu) < NR_CPUS; (cpu)++)	\
		if (cpumask_test_cpu((cpu), (mask)))
#define for_each_possible_cpu(cpu)	for_each_cpu(cpu, cpu_possible_mask)
#define for_each_online_cpu(cpu)	for_each_cpu(cpu, cpu_online_mask)

#define cpu_online(cpu)		cpumask_test_cpu((cpu), cpu_online_mask)
#define num_online_cpus()	cpumask_weight(cpu_online_mask)
#define num_possible_cpus()	cpumask_weight(cpu_possible_mask)

/* cpumask_of - the set holding @cpu alone (a constant, never written). */
const struct cpumask *cpumask_of(int cpu);

void set_cpu_possible(int cpu, int possible);
void set_cpu_online(int cpu, int online);

#endif
