"""Work around unicorn issue #1883: exceptions taken by UC_HOOK_INTR are
never marked "delivered" inside the engine.

QEMU's i386 core remembers the last contributory exception or page fault
(`env->old_exception`) to turn a second one into a double fault, and resets
it to -1 only when it delivers an exception itself (do_interrupt_all) or on
reset.  Unicorn hands exceptions to UC_HOOK_INTR instead of delivering them,
so the field is never reset: after one #PF (or #DE, #TS-#GP), the next
#PF/#DE/#GP is reported to the hook as #DF (8), and the one after that stops
the engine as a triple fault, whatever the guest's IDT says.

The machine delivers exceptions itself (interrupts.py), so after each one it
does what QEMU does after a successful delivery: old_exception = -1.  The
field is not a register, so it is patched in a saved context and restored.
Its offset in the context is found once, by experiment, on a scratch engine
(a #DE sets it to 0, a #GP to 13, both from -1); if that experiment does not
single out one offset (another unicorn build), the workaround is off and
`available()` says so.
"""
import ctypes
import struct

from unicorn import Uc, UcError, UC_ARCH_X86, UC_MODE_32, UC_HOOK_INTR
from unicorn import x86_const as X

# Vectors that set old_exception in QEMU's check_exception().
TRACKED_VECTORS = frozenset((0, 8, 10, 11, 12, 13, 14))

_offset = None
_probed = False


def _context_after(code: bytes):
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    uc.mem_map(0, 0x10000)
    uc.mem_write(0x1000, code)
    uc.reg_write(X.UC_X86_REG_ESP, 0x8000)
    before = bytes(uc.context_save())
    uc.hook_add(UC_HOOK_INTR, lambda u, intno, ud: u.emu_stop())
    try:
        uc.emu_start(0x1000, 0x1000 + len(code))
    except UcError:
        return None
    return before, bytes(uc.context_save())


def _probe():
    de = _context_after(b"\x31\xc9\xf7\xf1")            # xor ecx,ecx; div ecx
    gp = _context_after(b"\x66\xb8\xf8\x01\x8e\xe0")    # mov ax,0x1f8; mov fs,ax
    if de is None or gp is None or len(de[0]) != len(gp[1]):
        return None
    fresh, after_de = de
    after_gp = gp[1]
    hits = [off for off in range(0, len(fresh) - 3, 4)
            if struct.unpack_from("<i", fresh, off)[0] == -1
            and struct.unpack_from("<i", after_de, off)[0] == 0
            and struct.unpack_from("<i", after_gp, off)[0] == 13]
    return hits[0] if len(hits) == 1 else None


def offset():
    """Offset of old_exception in a saved unicorn context, or None."""
    global _offset, _probed
    if not _probed:
        _probed = True
        try:
            _offset = _probe()
        except Exception:
            _offset = None
    return _offset


def available() -> bool:
    return offset() is not None


def clear(uc) -> bool:
    """old_exception = -1 in the (stopped) engine.  False if unavailable."""
    off = offset()
    if off is None:
        return False
    ctx = uc.context_save()
    addr = ctypes.cast(ctx.context, ctypes.c_void_p).value
    ctypes.memmove(addr + off, b"\xff\xff\xff\xff", 4)
    uc.context_restore(ctx)
    return True
