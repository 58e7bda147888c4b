"""Builds and binds the native virtual clock (_clock.c); see that file for
the exact per-instruction contract.

The shared object is compiled with `gcc -O2 -shared -fPIC` on first use into
machine/_build/, named after the hash of the source, so editing _clock.c
rebuilds it and concurrent processes never see a half-written file.

Why a native code hook: unicorn has no API for its instruction counter, and
we need the exact count at every stop (breakpoints, hlt, faults) as the
machine's virtual time.  Measured here (gcc-built loop, slices of 100k):
bare unicorn with count= ~72 M instr/s, this hook ~72 M instr/s; a Python
hook is ~30x slower.  Breakpoints are checked in the same hook (a hash table
lookup only when breakpoints exist), so they need no TB invalidation.
Probes (Machine.add_probe) use a second table, looked up only when probes
exist, and call back into Python only at their addresses.

Measured alternative (not adopted yet): a native UC_HOOK_BLOCK hook that
only counts translation blocks runs the same guests at 92-266 M instr/s
(vs 40-55 with this per-instruction hook; bench/bench_machine.py loops).
Making it exact needs: per-TB instruction counts (uc_ctl TB_REQUEST_CACHE),
deadlines inside a block (stop at the block start, then an `exit` at the
k-th instruction, retranslating that one TB), icount corrections by
decoding from the block start on every mid-block stop (breakpoint hooks,
faults, port I/O, request_stop), steps via count=1 (a TB flush each), and
the IRQ window checked at block starts (sti/popf/iret end TBs in QEMU).
"""
import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile

from unicorn import UC_HOOK_CODE
from unicorn.unicorn_py3.unicorn import uclib

from .errors import KernelImageError

_HERE = os.path.dirname(os.path.abspath(__file__))
_SRC = os.path.join(_HERE, "_clock.c")
_BUILD = os.path.join(_HERE, "_build")

BP_SLOTS = 256

STOP_NONE = 0
STOP_DEADLINE = 1
STOP_BREAKPOINT = 2
STOP_IRQ_WINDOW = 3


class VClock(ctypes.Structure):
    _fields_ = [
        ("icount", ctypes.c_uint64),
        ("deadline", ctypes.c_uint64),
        ("emu_stop", ctypes.c_void_p),
        ("reg_read", ctypes.c_void_p),
        ("stop_reason", ctypes.c_uint64),
        ("stop_addr", ctypes.c_uint64),
        ("irq_armed", ctypes.c_uint64),
        ("if_seen", ctypes.c_uint64),
        ("skip_pending", ctypes.c_uint64),
        ("skip_addr", ctypes.c_uint64),
        ("nbp", ctypes.c_uint64),
        ("bp", ctypes.c_uint64 * BP_SLOTS),
        ("probe_cb", ctypes.c_void_p),
        ("npr", ctypes.c_uint64),
        ("pr", ctypes.c_uint64 * BP_SLOTS),
    ]


# probe_cb(address, icount): icount = instructions begun before this one
PROBE_FN = ctypes.CFUNCTYPE(None, ctypes.c_uint64, ctypes.c_uint64)


_lib = None


def _build() -> str:
    with open(_SRC, "rb") as f:
        src = f.read()
    digest = hashlib.sha256(src).hexdigest()[:16]
    so = os.path.join(_BUILD, "clock-%s.so" % digest)
    if os.path.exists(so):
        return so
    if shutil.which("gcc") is None:
        raise KernelImageError(
            "gcc not found: it is needed to build machine/_clock.c "
            "(install the Debian package `gcc`)")
    os.makedirs(_BUILD, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=_BUILD)
    os.close(fd)
    try:
        subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", tmp, _SRC],
                       check=True, capture_output=True)
        os.replace(tmp, so)
    except subprocess.CalledProcessError as e:
        os.unlink(tmp)
        raise RuntimeError("building %s failed:\n%s" % (_SRC, e.stderr.decode()))
    return so


def lib():
    global _lib
    if _lib is None:
        l = ctypes.CDLL(_build())
        l.vclock_bp_add.argtypes = [ctypes.POINTER(VClock), ctypes.c_uint64]
        l.vclock_bp_add.restype = ctypes.c_int
        l.vclock_bp_clear.argtypes = [ctypes.POINTER(VClock)]
        l.vclock_bp_clear.restype = None
        l.vclock_probe_add.argtypes = [ctypes.POINTER(VClock), ctypes.c_uint64]
        l.vclock_probe_add.restype = ctypes.c_int
        l.vclock_probe_clear.argtypes = [ctypes.POINTER(VClock)]
        l.vclock_probe_clear.restype = None
        _lib = l
    return _lib


def new_clock() -> VClock:
    c = VClock()
    c.emu_stop = ctypes.cast(uclib.uc_emu_stop, ctypes.c_void_p).value
    c.reg_read = ctypes.cast(uclib.uc_reg_read, ctypes.c_void_p).value
    c.deadline = 0
    return c


def install(uc, clock: VClock) -> int:
    """Register the clock hook on every address; returns the hook handle."""
    h = ctypes.c_size_t()
    status = uclib.uc_hook_add(
        uc._uch, ctypes.byref(h), UC_HOOK_CODE,
        ctypes.cast(lib().vclock_hook, ctypes.c_void_p),
        ctypes.cast(ctypes.pointer(clock), ctypes.c_void_p),
        ctypes.c_uint64(1), ctypes.c_uint64(0))
    if status != 0:
        raise RuntimeError("uc_hook_add(vclock) failed: %d" % status)
    return h.value


def set_breakpoints(clock: VClock, addrs):
    l = lib()
    l.vclock_bp_clear(ctypes.byref(clock))
    for a in addrs:
        if l.vclock_bp_add(ctypes.byref(clock), a) != 0:
            raise ValueError("too many breakpoints (max %d)" % (BP_SLOTS // 2))


def set_probes(clock: VClock, addrs, callback=None):
    """Replace the probe table.  `callback` is a PROBE_FN instance that the
    caller keeps alive (ctypes does not); None keeps the current one."""
    l = lib()
    if callback is not None:
        clock.probe_cb = ctypes.cast(callback, ctypes.c_void_p).value
    l.vclock_probe_clear(ctypes.byref(clock))
    for a in addrs:
        if l.vclock_probe_add(ctypes.byref(clock), a) != 0:
            raise ValueError("too many probes (max %d)" % (BP_SLOTS // 2))
