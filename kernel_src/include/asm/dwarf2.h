#ifndef _ASM_X86_DWARF2_H
#define _ASM_X86_DWARF2_H

#ifndef __ASSEMBLY__
#error "asm/dwarf2.h is for assembly code"
#endif

/*
 * DWARF call-frame information (CFI) for hand-written assembly.
 *
 * gcc describes every C function's frame in .debug_frame; assembly code
 * must do it by hand, or a debugger unwinding through it gets lost.  The
 * CFI_* names wrap gas's .cfi_* directives, as Linux's asm/dwarf2.h does:
 * the CFA ("canonical frame address") is the stack pointer value just
 * before the frame was entered, and each saved register is described by
 * its offset from the CFA.
 *
 * The tables go to .debug_frame, which gdb reads and the loader leaves
 * on disk (.eh_frame would be loaded with the image and grow it).
 *
 * pushl_cfi/popl_cfi keep the CFA right across a push or pop;
 * pushl_cfi_reg/popl_cfi_reg also say where a register was saved, and
 * that it is back in place.
 */
	.cfi_sections .debug_frame

#define CFI_STARTPROC		.cfi_startproc
#define CFI_ENDPROC		.cfi_endproc
#define CFI_DEF_CFA		.cfi_def_cfa
#define CFI_ADJUST_CFA_OFFSET	.cfi_adjust_cfa_offset
#define CFI_OFFSET		.cfi_offset
#define CFI_REL_OFFSET		.cfi_rel_offset
#define CFI_RESTORE		.cfi_restore
#define CFI_SIGNAL_FRAME	.cfi_signal_frame
#define CFI_UNDEFINED		.cfi_undefined

.macro pushl_cfi arg
	pushl \arg
	CFI_ADJUST_CFA_OFFSET 4
.endm

.macro popl_cfi arg
	popl \arg
	CFI_ADJUST_CFA_OFFSET -4
.endm

.macro pushl_cfi_reg reg
	pushl %\reg
	CFI_ADJUST_CFA_OFFSET 4
	CFI_REL_OFFSET \reg, 0
.endm

.macro popl_cfi_reg reg
	popl %\reg
	CFI_ADJUST_CFA_OFFSET -4
	CFI_RESTORE \reg
.endm

#endif
