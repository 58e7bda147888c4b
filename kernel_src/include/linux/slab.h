#ifndef _LINUX_SLAB_H
#define _LINUX_SLAB_H

#include <linux/types.h>

/* Kernel heap: size-class buckets carved out of whole pages. */
void *kmalloc(size_t size);
void *kzalloc(size_t size);
void kfree(const void *p);

#endif
