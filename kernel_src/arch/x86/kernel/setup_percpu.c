/*
 * setup_percpu.c - where each CPU's per-CPU variables live.
 *
 * CPU 0 uses .data..percpu itself (offset 0, the flat __KERNEL_PERCPU of
 * head_32.S), so a one-CPU kernel never copies anything.  See
 * asm/percpu.h for how the offsets are used.
 */
#include <linux/smp.h>

unsigned long __per_cpu_offset[NR_CPUS];

DEFINE_PER_CPU(int, cpu_number);
