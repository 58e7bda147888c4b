#ifndef _LINUX_MULTIBOOT_H
#define _LINUX_MULTIBOOT_H

/* Multiboot v1: the header we carry and the info the loader hands us. */
#define MULTIBOOT_HEADER_MAGIC		0x1BADB002
#define MULTIBOOT_BOOTLOADER_MAGIC	0x2BADB002
#define MULTIBOOT_PAGE_ALIGN		0x00000001
#define MULTIBOOT_MEMORY_INFO		0x00000002

#define MULTIBOOT_INFO_MEMORY		0x00000001
#define MULTIBOOT_INFO_CMDLINE		0x00000004

#ifndef __ASSEMBLY__
#include <linux/types.h>

/* The part of the multiboot info structure we read (all PHYSICAL addresses). */
struct multiboot_info {
	u32 flags;
	u32 mem_lower;		/* KiB below 1 MiB */
	u32 mem_upper;		/* KiB above 1 MiB, up to the first hole */
	u32 boot_device;
	u32 cmdline;		/* physical address of a NUL-terminated string */
};
#endif

#endif
