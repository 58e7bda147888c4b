#ifndef _LINUX_LINKAGE_H
#define _LINUX_LINKAGE_H

/*
 * Assembly helpers: ENTRY() opens a global, aligned function symbol and
 * ENDPROC() gives it a type and size so gdb and objdump can name any
 * address inside it.
 */
#ifdef __ASSEMBLY__

#define ALIGN		.p2align 4, 0x90

#define ENTRY(name)	\
	.globl name;	\
	ALIGN;		\
	name:

#define END(name)	\
	.size name, .-name

#define ENDPROC(name)			\
	.type name, @function;		\
	END(name)

#else

#define asmlinkage	__attribute__((regparm(0)))

#endif
#endif
