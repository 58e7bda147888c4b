#ifndef _ASM_X86_SETUP_H
#define _ASM_X86_SETUP_H

/* Physical address of the multiboot info, saved by head_32.S. */
extern unsigned long boot_params_phys;

/* Highest usable page frame + 1, from the multiboot memory map. */
extern unsigned long max_low_pfn;

/* The loader's command line (multiboot cmdline), NUL-terminated. */
extern char boot_command_line[256];

void setup_arch(void);
const char *cmdline_get(const char *name);

#endif
