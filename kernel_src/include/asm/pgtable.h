#ifndef _ASM_X86_PGTABLE_H
#define _ASM_X86_PGTABLE_H

/*
 * Two-level i386 paging, 4 KiB pages only (no PSE): a page directory of
 * 1024 entries, each pointing at a page table of 1024 PTEs.
 */
#define _PAGE_PRESENT	0x001
#define _PAGE_RW	0x002
#define _PAGE_USER	0x004
#define _PAGE_PWT	0x008	/* write-through */
#define _PAGE_PCD	0x010	/* cache disabled: device registers */
#define _PAGE_TABLE	(_PAGE_PRESENT | _PAGE_RW)	/* kernel-only, writable */

#define PTRS_PER_PGD	1024
#define PTRS_PER_PTE	1024
#define PGDIR_SHIFT	22

/* Page tables needed to map MAXMEM: 128 MiB / 4 MiB = 32. */
#define KERNEL_PGD_PTRS	(MAXMEM >> PGDIR_SHIFT)
#define KERNEL_PGD_BOUNDARY (__PAGE_OFFSET >> PGDIR_SHIFT)	/* 768 */

#ifndef __ASSEMBLY__
typedef unsigned long pgd_t;
typedef unsigned long pte_t;

extern pgd_t swapper_pg_dir[PTRS_PER_PGD];
extern pte_t pg0[KERNEL_PGD_PTRS * PTRS_PER_PTE];
#endif

#endif
