/*
 * trampoline_32.S - the first instructions of an application processor.
 *
 * An AP starts in 16-bit real mode at CS = V << 8, IP = 0, where V is the
 * vector of the STARTUP IPI (smpboot.c sends TRAMPOLINE_BASE >> 12).
 * trampoline_data is copied to TRAMPOLINE_BASE, below 1 MiB, and does
 * only what real mode must: load the kernel's GDT (by its physical
 * address) and set CR0.PE, then far-jump into startup_32_smp in the
 * kernel image, in 32-bit protected mode, paging still off.
 *
 * startup_32_smp turns paging on with the page directory whose physical
 * address is in initial_page_table (smpboot.c): the kernel mapping plus an
 * identity map of low memory, so that the instruction after
 * `mov %eax, %cr0` can be fetched at its physical address.  At its virtual address it switches
 * to swapper_pg_dir, loads the GDT the boot CPU made for it
 * (smp_gdt_descr: its __KERNEL_PERCPU has this CPU's per-CPU base), %fs,
 * the stack of its idle task (stack_start), and calls start_secondary(),
 * which never returns.
 */
#include <linux/linkage.h>
#include <asm/segment.h>
#include <asm/page.h>
#include <asm/processor-flags.h>

#define pa(X)	((X) - __PAGE_OFFSET)

/* Copied, never run in place: data to the kernel. */
	.section .rodata, "a"
	.code16
ENTRY(trampoline_data)
	cli
	movw %cs, %ax			/* address our own copy */
	movw %ax, %ds
	lgdtl tr_gdt - trampoline_data	/* 32-bit base: the GDT is above 16 MiB */
	movl $X86_CR0_PE, %eax
	movl %eax, %cr0
	ljmpl $__KERNEL_CS, $pa(startup_32_smp)

	.align 4
tr_gdt:
	.word GDT_ENTRIES * 8 - 1
	.long pa(gdt_table)
ENTRY(trampoline_end)
	.code32

	.text
ENTRY(startup_32_smp)
	movl $__KERNEL_DS, %eax
	movl %eax, %ss
	movl $__USER_DS, %eax
	movl %eax, %ds
	movl %eax, %es
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs

	movl pa(initial_page_table), %eax
	movl %eax, %cr3
	movl %cr0, %eax
	orl $X86_CR0_PG, %eax
	movl %eax, %cr0
	ljmp $__KERNEL_CS, $1f
1:	movl $pa(swapper_pg_dir), %eax	/* now at 0xc1xxxxxx: low map not needed */
	movl %eax, %cr3
	lgdt smp_gdt_descr
	movl $__KERNEL_PERCPU, %eax
	movl %eax, %fs
	movl stack_start, %esp
	xorl %ebp, %ebp			/* end of the frame-pointer chain */
	call start_secondary
2:	cli
	hlt
	jmp 2b
ENDPROC(startup_32_smp)
