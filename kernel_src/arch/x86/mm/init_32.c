/*
 * init_32.c - the kernel's page tables after boot.
 *
 * head_32.S left two views of the first 128 MiB in swapper_pg_dir:
 * virtual 0.. (identity, needed only while turning paging on) and
 * PAGE_OFFSET.. (permanent).  paging_init() removes the identity view so
 * that stray low pointers, NULL first of all, fault instead of silently
 * reading physical memory.
 */
#include <linux/kernel.h>
#include <asm/page.h>
#include <asm/pgtable.h>
#include <asm/processor.h>

/*
 * zap_low_mappings - clear the identity entries of the page directory and
 * reload CR3, which flushes every non-global TLB entry (we never set the
 * global bit), so no stale translation of a low address survives.
 */
static void zap_low_mappings(void)
{
	unsigned int i;

	for (i = 0; i < KERNEL_PGD_PTRS; i++)
		swapper_pg_dir[i] = 0;
	write_cr3(__pa(swapper_pg_dir));
}

void paging_init(void)
{
	zap_low_mappings();
}
