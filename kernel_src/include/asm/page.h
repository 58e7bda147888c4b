#ifndef _ASM_X86_PAGE_H
#define _ASM_X86_PAGE_H

/*
 * The kernel's view of memory: physical address P is mapped at virtual
 * PAGE_OFFSET + P for all of RAM (up to MAXMEM).  The image is loaded at
 * physical LOAD_PHYSICAL_ADDR, so it runs at 0xc1000000.
 */
#define PAGE_SHIFT		12
#define PAGE_SIZE		(1UL << PAGE_SHIFT)
#define PAGE_MASK		(~(PAGE_SIZE - 1))

#define __PAGE_OFFSET		0xc0000000
#define LOAD_PHYSICAL_ADDR	0x01000000

/* Head code maps this much RAM (128 MiB) with 4 KiB pages: 32 page tables. */
#define MAXMEM			0x08000000
#define MAXMEM_PFN		(MAXMEM >> PAGE_SHIFT)

#ifndef __ASSEMBLY__
#define PAGE_OFFSET	((unsigned long)__PAGE_OFFSET)
#define __pa(x)		((unsigned long)(x) - PAGE_OFFSET)
#define __va(x)		((void *)((unsigned long)(x) + PAGE_OFFSET))
#define PFN_UP(x)	(((x) + PAGE_SIZE - 1) >> PAGE_SHIFT)
#define PFN_DOWN(x)	((x) >> PAGE_SHIFT)
#endif

#endif
