/*
 * setup.c - learn the machine from the boot loader's multiboot info.
 *
 * head_32.S saved the physical address of the info structure in
 * boot_params_phys.  It lives in low memory, which is mapped at
 * PAGE_OFFSET like the rest of RAM, so we read it through __va().
 */
#include <linux/kernel.h>
#include <linux/multiboot.h>
#include <linux/gfp.h>
#include <linux/string.h>
#include <asm/page.h>
#include <asm/setup.h>
#include <asm/mpspec.h>

extern char _text[], _end[];
void paging_init(void);

unsigned long max_low_pfn;
char boot_command_line[256];

/**
 * cmdline_get - the value of "name=value" on the command line.
 * @name: option name, without the '='
 *
 * Returns a pointer to the value (ending at a space or the end of the
 * line), or NULL if the option is absent.
 */
const char *cmdline_get(const char *name)
{
	size_t n = strlen(name);
	const char *p = boot_command_line;

	while (*p) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, name, n) && p[n] == '=')
			return p + n + 1;
		while (*p && *p != ' ')
			p++;
	}
	return NULL;
}

/*
 * setup_arch - size memory, drop the boot identity map, start the page
 * allocator.
 *
 * RAM we manage: from the first page after the kernel image (_end) up to
 * the top reported by the loader, capped at MAXMEM, which is all head_32.S
 * mapped.  Without memory info we assume 32 MiB.
 */
void setup_arch(void)
{
	struct multiboot_info *mbi = NULL;
	unsigned long mem_kb = 32 * 1024;
	unsigned long start_pfn;

	if (boot_params_phys)
		mbi = __va(boot_params_phys);
	if (mbi && (mbi->flags & MULTIBOOT_INFO_MEMORY))
		mem_kb = 1024 + mbi->mem_upper;
	if (mbi && (mbi->flags & MULTIBOOT_INFO_CMDLINE) && mbi->cmdline)
		strlcpy(boot_command_line, __va(mbi->cmdline),
			sizeof(boot_command_line));

	max_low_pfn = mem_kb >> (PAGE_SHIFT - 10);
	if (max_low_pfn > MAXMEM_PFN)
		max_low_pfn = MAXMEM_PFN;

	printk("Command line: %s\n", boot_command_line);
	printk("RAM: %lu KiB, managing %lu MiB (max_low_pfn %lx)\n",
	       mem_kb, (max_low_pfn << PAGE_SHIFT) >> 20, max_low_pfn);

	paging_init();
	find_smp_config();

	start_pfn = PFN_UP(__pa(_end));
	mem_init(start_pfn, max_low_pfn);
	printk("Memory: %luk free, kernel image %luk at %p\n",
	       nr_free_pages() << (PAGE_SHIFT - 10),
	       (unsigned long)(_end - _text) >> 10, _text);
}
