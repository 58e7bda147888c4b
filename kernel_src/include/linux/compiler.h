#ifndef _LINUX_COMPILER_H
#define _LINUX_COMPILER_H

/* Compiler annotations used throughout the kernel (gcc only). */

#define barrier()	__asm__ __volatile__("" : : : "memory")
#define noinline	__attribute__((noinline))
#define __always_inline	inline __attribute__((always_inline))
#define __noreturn	__attribute__((noreturn))
#define __aligned(x)	__attribute__((aligned(x)))
#define __section(s)	__attribute__((section(s)))
#define __used		__attribute__((used))
#define __printf(a, b)	__attribute__((format(printf, a, b)))
#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

/* Force a single, non-cached access (the compiler may not merge or drop it). */
#define ACCESS_ONCE(x)	(*(volatile __typeof__(x) *)&(x))

#endif
