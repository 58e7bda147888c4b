#ifndef _LINUX_THREADS_H
#define _LINUX_THREADS_H

/*
 * NR_CPUS - the most CPUs this kernel can run; an MP table listing more
 * gets the first NR_CPUS (in table order) and a warning.
 */
#define NR_CPUS		8

#endif
