#ifndef _LINUX_SMP_H
#define _LINUX_SMP_H

/*
 * smp.h - which CPU am I, and talking to the other CPUs.
 *
 * smp_processor_id() is this CPU's number (0 = the boot CPU; see
 * linux/cpumask.h).  A task may read it and use it only while it cannot
 * move to another CPU: in this kernel a task moves only inside schedule(),
 * so the value holds until the task next sleeps or yields.
 */
#include <linux/cpumask.h>
#include <asm/percpu.h>

DECLARE_PER_CPU(int, cpu_number);
#define smp_processor_id()	percpu_read(cpu_number)

void smp_send_reschedule(int cpu);	/* arch/x86/kernel/smp.c */

/* arch/x86/kernel/smpboot.c: nothing unless the MP table lists CPUs. */
void smp_init(void);

#endif
