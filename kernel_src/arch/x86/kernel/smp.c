/*
 * smp.c - inter-processor interrupts this kernel sends.
 *
 * Only one: the reschedule IPI (fixed delivery, RESCHEDULE_VECTOR), sent
 * by a CPU that queued a task on an idle CPU's run queue (kernel/sched.c,
 * resched_cpu()), to end that CPU's hlt.  Never sent with one CPU.
 */
#include <linux/smp.h>
#include <asm/apic.h>
#include <asm/mpspec.h>

void smp_send_reschedule(int cpu)
{
	apic_send_IPI(cpu_to_apicid[cpu], APIC_DM_FIXED | RESCHEDULE_VECTOR);
}
