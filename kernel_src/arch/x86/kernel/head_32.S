/*
 * void startup_32(void);
 *
 * The first kernel code to run.  The multiboot loader jumps here with:
 *   eax = 0x2BADB002, ebx = physical address of the multiboot info,
 *   flat 4 GiB segments, paging OFF, interrupts OFF.
 *
 * We are linked at 0xc1000000 but loaded at 0x01000000, so until paging is
 * on every memory reference must be to the PHYSICAL address: pa(sym).
 *
 * Steps (and the invariant each establishes):
 *  1. load our GDT (Linux selectors: __KERNEL_CS 0x60, __KERNEL_DS 0x68,
 *     __USER_DS 0x7b, __KERNEL_PERCPU 0xd8) and reload every segment
 *     register, so no stale loader descriptor is cached;
 *  2. clear .bss (the loader zeroes it too; we do not rely on that);
 *  3. remember the multiboot info address in boot_params_phys;
 *  4. build page tables: 32 page tables (pg0) of 4 KiB pages covering
 *     physical 0..128 MiB, entered twice in swapper_pg_dir: at 0 (identity,
 *     so the instruction after `mov %eax,%cr0` can still be fetched) and at
 *     0xc0000000 (the kernel's permanent view).  No large pages: PSE stays
 *     off and CR4 is never touched;
 *  5. set CR3, set CR0.PG, jump to the virtual address of the next label;
 *  6. reload GDTR with the virtual address of the GDT, switch to the boot
 *     task's stack (init_thread_union) and call start_kernel().  The
 *     identity map is removed later, by zap_low_mappings().
 */
#include <linux/linkage.h>
#include <linux/multiboot.h>
#include <asm/segment.h>
#include <asm/page.h>
#include <asm/pgtable.h>
#include <asm/thread_info.h>
#include <asm/processor-flags.h>

/* Physical address of a kernel symbol, usable while paging is off. */
#define pa(X)	((X) - __PAGE_OFFSET)

#define MB_FLAGS	(MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO)

	.section .head.text, "ax"

/* The multiboot v1 header: magic, flags, checksum (the three sum to 0). */
	.align 4
multiboot_header:
	.long MULTIBOOT_HEADER_MAGIC
	.long MB_FLAGS
	.long -(MULTIBOOT_HEADER_MAGIC + MB_FLAGS)

ENTRY(startup_32)
	cli
	cld

	/* 1. Our GDT, addressed physically for now. */
	lgdt pa(boot_gdt_descr)
	ljmp $__KERNEL_CS, $pa(1f)
1:	movl $__KERNEL_DS, %ecx
	movl %ecx, %ss
	movl $__USER_DS, %ecx		/* Linux keeps ds/es = __USER_DS */
	movl %ecx, %ds
	movl %ecx, %es
	movl $__KERNEL_PERCPU, %ecx
	movl %ecx, %fs
	xorl %ecx, %ecx
	movl %ecx, %gs
	movl $pa(init_thread_union + THREAD_SIZE), %esp

	/* 2. Clear .bss.  eax/ebx carry the loader's hand-off: keep them. */
	movl %eax, %edx
	movl %ebx, %esi
	xorl %eax, %eax
	movl $pa(__bss_start), %edi
	movl $pa(__bss_stop), %ecx
	subl %edi, %ecx
	shrl $2, %ecx
	rep stosl

	/* 3. The multiboot info pointer (0 if we were not multiboot-loaded). */
	cmpl $MULTIBOOT_BOOTLOADER_MAGIC, %edx
	je 2f
	xorl %esi, %esi
2:	movl %esi, pa(boot_params_phys)

	/* 4a. pg0[i] = (i << 12) | present | rw, for every 4 KiB page of MAXMEM. */
	movl $pa(pg0), %edi
	movl $_PAGE_TABLE, %eax
	movl $(KERNEL_PGD_PTRS * PTRS_PER_PTE), %ecx
3:	stosl
	addl $PAGE_SIZE, %eax
	loop 3b

	/* 4b. Directory entries 0..31 and 768..799 both point at pg0's tables. */
	movl $pa(swapper_pg_dir), %edi
	movl $(pa(pg0) + _PAGE_TABLE), %eax
	movl $KERNEL_PGD_PTRS, %ecx
4:	movl %eax, (%edi)
	movl %eax, (KERNEL_PGD_BOUNDARY * 4)(%edi)
	addl $4, %edi
	addl $PAGE_SIZE, %eax
	loop 4b

	/* 5. Paging on.  The jump leaves the identity-mapped addresses behind. */
	movl $pa(swapper_pg_dir), %eax
	movl %eax, %cr3
	movl %cr0, %eax
	orl $X86_CR0_PG, %eax
	movl %eax, %cr0
	ljmp $__KERNEL_CS, $5f
5:
	/* 6. From here on we run at 0xc1xxxxxx. */
	lgdt early_gdt_descr
	movl $(init_thread_union + THREAD_SIZE), %esp
	xorl %ebp, %ebp			/* end of the frame-pointer chain */
	call start_kernel

	/* start_kernel() never returns; if it did, stop here for good. */
6:	cli
	hlt
	jmp 6b
ENDPROC(startup_32)

/*
 * The GDT.  Flat descriptors: base 0, limit 0xfffff in 4 KiB units.
 *   0x00cf9a000000ffff  ring 0 code, read/exec, 32-bit
 *   0x00cf92000000ffff  ring 0 data, read/write
 *   0x00cffa000000ffff  ring 3 code
 *   0x00cff2000000ffff  ring 3 data
 */
	.data
	.align 8
ENTRY(gdt_table)
	.fill GDT_ENTRY_KERNEL_CS, 8, 0
	.quad 0x00cf9a000000ffff	/* 12: __KERNEL_CS */
	.quad 0x00cf92000000ffff	/* 13: __KERNEL_DS */
	.quad 0x00cffa000000ffff	/* 14: __USER_CS */
	.quad 0x00cff2000000ffff	/* 15: __USER_DS */
	.fill GDT_ENTRY_PERCPU - 16, 8, 0
	.quad 0x00cf92000000ffff	/* 27: __KERNEL_PERCPU */
	.quad 0x0000000000000000	/* 28: stack canary (unused) */
	.fill GDT_ENTRIES - 29, 8, 0
END(gdt_table)

	.align 4
	.word 0
boot_gdt_descr:				/* the GDT by physical address */
	.word GDT_ENTRIES * 8 - 1
	.long pa(gdt_table)

	.word 0
ENTRY(early_gdt_descr)			/* the GDT by virtual address */
	.word GDT_ENTRIES * 8 - 1
	.long gdt_table

ENTRY(boot_params_phys)
	.long 0

/*
 * Page directory and the page tables for 128 MiB.  Page-aligned, in .bss:
 * head code fills them, so they cost nothing in the image.
 */
	.section .bss..page_aligned, "aw", @nobits
	.align PAGE_SIZE
	.globl swapper_pg_dir
swapper_pg_dir:
	.skip PTRS_PER_PGD * 4
	.globl pg0
pg0:
	.skip KERNEL_PGD_PTRS * PTRS_PER_PTE * 4
