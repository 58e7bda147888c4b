#ifndef _LINUX_TYPES_H
#define _LINUX_TYPES_H

/* Fixed-size integer types for a 32-bit i386 kernel (ILP32). */

typedef unsigned char		u8;
typedef unsigned short		u16;
typedef unsigned int		u32;
typedef unsigned long long	u64;
typedef signed char		s8;
typedef short			s16;
typedef int			s32;
typedef long long		s64;

typedef unsigned int	size_t;
typedef int		ssize_t;
typedef int		pid_t;
typedef unsigned long	uintptr_t;
typedef _Bool		bool;

#define true	1
#define false	0

typedef struct {
	volatile int counter;
} atomic_t;

#endif
