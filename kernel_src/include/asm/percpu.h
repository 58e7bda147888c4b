#ifndef _ASM_X86_PERCPU_H
#define _ASM_X86_PERCPU_H

/*
 * Per-CPU variables, addressed through %fs (__KERNEL_PERCPU).
 *
 * DEFINE_PER_CPU(type, name) puts one copy of @name in .data..percpu, at
 * its link address: that copy is CPU 0's, so on one CPU a per-CPU
 * variable is an ordinary global (gdb: `print current_task`).  Every
 * other CPU gets a zeroed copy of the whole section (setup_per_cpu_area()
 * in smpboot.c); __per_cpu_offset[cpu] is its distance from the link
 * address, and the base of that CPU's __KERNEL_PERCPU descriptor, so
 *
 *   percpu_read(name)      reads %fs:name, this CPU's copy, in one
 *                          instruction (no race with a task switch);
 *   per_cpu(name, cpu)     is the lvalue of @cpu's copy, from any CPU.
 *
 * Both are plain C expressions in gcc's __seg_fs address space, not asm
 * or statement expressions: a line that reads `current` then has one line
 * table entry, and one breakpoint location, like any other line.
 * Debuggers find CPU n's copy of a variable at its address +
 * __per_cpu_offset[n].
 */
#include <linux/threads.h>

#define DEFINE_PER_CPU(type, name) \
	__attribute__((section(".data..percpu"))) __typeof__(type) name
#define DECLARE_PER_CPU(type, name)	extern __typeof__(type) name

extern unsigned long __per_cpu_offset[NR_CPUS];
extern char __per_cpu_start[], __per_cpu_end[];

#define per_cpu(var, cpu) \
	(*(__typeof__(&(var)))((char *)&(var) + __per_cpu_offset[cpu]))

/* @var's copy in %fs's segment (the cast goes through an integer, as the
 * generic and the __seg_fs address spaces are disjoint to the compiler). */
#define __percpu_fs(var)	(*(__seg_fs __typeof__(var) *)(unsigned long) &(var))

#define percpu_read(var)	__percpu_fs(var)
#define percpu_write(var, val)	(__percpu_fs(var) = (val))

#endif
