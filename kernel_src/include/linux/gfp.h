#ifndef _LINUX_GFP_H
#define _LINUX_GFP_H

/*
 * The page allocator: 2^order physically contiguous pages, returned as
 * their kernel virtual address (PAGE_OFFSET + physical).
 */
unsigned long __get_free_pages(unsigned int order);
void free_pages(unsigned long addr, unsigned int order);
void mem_init(unsigned long start_pfn, unsigned long end_pfn);
unsigned long nr_free_pages(void);

#define __get_free_page()	__get_free_pages(0)
#define free_page(addr)		free_pages((addr), 0)

#endif
