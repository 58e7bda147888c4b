"""Builds and binds the native virtual clock (_clock.c, whose comment states
the exact contract) and runs its modes (BlockClock): icount, block and
per-instruction.

The shared objects are compiled with `gcc -O2 -shared -fPIC` on first use into
machine/_build/, named after the hash of the source, so editing a C file
rebuilds it and concurrent processes never see a half-written file.

Why native hooks: unicorn has no API for its instruction counter, and we need
the exact count at every stop (breakpoints, hlt, faults, port I/O) as the
machine's virtual time.  Three ways to count, all exact:

- icount mode (the default when the engine is the project's patched
  unicorn, scripts/unicorn/icount.diff: Icount): the translated code counts,
  with no callback per block.  The engine runs up to the next deadline or
  IRQ window by its exact limit and stops at the first block boundary
  with IF=1 while an IRQ waits; the host makes the clock's checks at the
  boundaries where it stops (BlockClock.boundary, in _clock.c's order).
  A probe stops the engine before its instruction (STOP_PROBE), so that
  the host calls it at the exact count.  Memory hooks read icount in the
  middle of a block: while they exist the CPU uses block mode
  (Cpu.fit_clock_mode).
- block mode (default): a UC_HOOK_BLOCK hook charges each translation block
  its instruction count; stops inside a block (deadlines, the sti shadow, the
  instruction after an OUT) are per-address code hooks placed on the exact
  instruction, and host hooks in mid-block (port I/O, faults, probes) first
  count the block's instructions up to EIP (`sync`).  The instruction counts
  and addresses come from decoding each block once with capstone (from inside
  the block hook; a block with an OUT first gets a hook after it).
- per-instruction mode: a UC_HOOK_CODE hook before every instruction; the
  fallback when capstone cannot decode a block exactly, and the reference
  the tests compare block mode with.  A data watchpoint hit cannot stop
  inside a block either: TimeMachine goes back to just after the accessing
  instruction (restore + exact replay, machine/watch.py).

Measured (bench/bench_clock.py, bench/results/bench_clock.txt: CPU time on
a loaded 2-core host): on `inc; dec; jnz` unicorn without hooks runs ~770 M
instr/s, the block clock ~420 M, the per-instruction hook ~96 M; on a loop
that stores to an executable page unicorn itself is the limit (every store
takes its slow path: ~65 M without hooks, the block clock the same;
bench/bench_unicorn_stores.py), which the virtual TLB (mmu.py) avoids for
pages that hold no code.  A hook over the whole address space
costs at every instruction; per-address hooks cost nothing elsewhere.  A
Python hook is ~30x slower than a native one; a register read through the
binding ~3x one through uc_reg_read directly (Regs, which the run loop's
per-tick work uses: the armed deadline stop, the IRQ delivery).

Port I/O (PortIO): the engine's IN and OUT hooks are native too, so that
the console UART (printk polls LSR and writes THR for each character) costs
no call into Python per byte; other ports go to the machine's handlers.

Known limit: decoded blocks are keyed by (virtual pc, byte size) and
forgotten on every debugger write, reset and restore to other memory; guest
code that rewrites itself into a block of the same address and size but
another instruction count would be miscounted (the kernel does not).
"""
import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile

import capstone
from unicorn import UC_HOOK_CODE, UC_HOOK_BLOCK, UC_HOOK_INSN, UcError
from unicorn.x86_const import UC_X86_INS_IN, UC_X86_INS_OUT
from unicorn.unicorn_const import UC_CTL_IO_WRITE, UC_CTL_TB_REMOVE_CACHE
from unicorn.unicorn_py3.unicorn import uclib

from .errors import KernelImageError

_HERE = os.path.dirname(os.path.abspath(__file__))
_SRC = os.path.join(_HERE, "_clock.c")
_BUILD = os.path.join(_HERE, "_build")

BP_SLOTS = 256
BLK_SLOTS = 16384
CON_SIZE = 4096             # console bytes held natively (_clock.c vclock_out)
IDLE_MAX = 16               # address hooks kept without a role (BlockClock.idle)
IDLE_RUN = 2_000_000        # instructions without a reuse that drop them all
BLK_SETS_IF = 1 << 31       # or'ed into a block's count: see _may_set_if
NO_ADDR = (1 << 64) - 1
NO_LIMIT = (1 << 64) - 1     # Icount.limit: none

STOP_NONE = 0
STOP_DEADLINE = 1
STOP_BREAKPOINT = 2
STOP_IRQ_WINDOW = 3
STOP_REQUESTED = 4
STOP_DECODE = 5
STOP_ARM = 6
STOP_PROBE = 7


class VClock(ctypes.Structure):
    _fields_ = [
        ("icount", ctypes.c_uint64),
        ("deadline", ctypes.c_uint64),
        ("emu_stop", ctypes.c_void_p),
        ("reg_read", ctypes.c_void_p),
        ("stop_reason", ctypes.c_uint64),
        ("stop_addr", ctypes.c_uint64),
        ("irq_armed", ctypes.c_uint64),
        ("irq_at", ctypes.c_uint64),
        ("skip_pending", ctypes.c_uint64),
        ("skip_addr", ctypes.c_uint64),
        ("nbp", ctypes.c_uint64),
        ("bp", ctypes.c_uint64 * BP_SLOTS),
        ("probe_cb", ctypes.c_void_p),
        ("npr", ctypes.c_uint64),
        ("pr", ctypes.c_uint64 * BP_SLOTS),
        ("per_insn", ctypes.c_uint64),
        ("stop_req", ctypes.c_uint64),
        ("blk_pc", ctypes.c_uint64),
        ("blk_size", ctypes.c_uint64),
        ("blk_n", ctypes.c_uint64),
        ("blk_done", ctypes.c_uint64),
        ("arm_pc", ctypes.c_uint64),
        ("arm_icount", ctypes.c_uint64),
        ("arm_k", ctypes.c_uint64),
        ("arm_addr", ctypes.c_uint64),
        ("need_k", ctypes.c_uint64),
        ("decode_cb", ctypes.c_void_p),
        ("if_maybe", ctypes.c_uint64),
        ("nblk", ctypes.c_uint64),
        ("blk", ctypes.c_uint64 * (BLK_SLOTS * 2)),
        ("uart_lsr", ctypes.c_uint64),
        ("uart_thr", ctypes.c_uint64),
        ("in_cb", ctypes.c_void_p),
        ("out_cb", ctypes.c_void_p),
        ("con_cb", ctypes.c_void_p),
        ("ncon", ctypes.c_uint64),
        ("con", ctypes.c_uint8 * CON_SIZE),
        ("probe_stop", ctypes.c_uint64),
        ("probe_done", ctypes.c_uint64),
    ]


# probe_cb(address, icount): icount = instructions begun before this one
# (NO_ADDR from the block-mode address hook: the host syncs icount first)
PROBE_FN = ctypes.CFUNCTYPE(None, ctypes.c_uint64, ctypes.c_uint64)
_vmem_read = uclib.uc_vmem_read
_vmem_read.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int, ctypes.c_void_p,
                       ctypes.c_size_t]
_vmem_read.restype = ctypes.c_int
_reg_read = uclib.uc_reg_read
_reg_read.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
_reg_read.restype = ctypes.c_int
_reg_write = uclib.uc_reg_write
_reg_write.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
_reg_write.restype = ctypes.c_int
UC_X86_REG_EIP = 26
UC_X86_REG_EFLAGS = 25


def _reg32(uc, regid):
    """A 32-bit register straight through uc_reg_read (from inside hooks too)."""
    v = ctypes.c_uint32()
    _reg_read(uc._uch, regid, ctypes.byref(v))
    return v.value

UC_PROT_EXEC = 4

# decode_cb(pc, size) -> instruction count, 0: stop (STOP_DECODE) first
DECODE_FN = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64)
# the host's port I/O (vclock_in/vclock_out pass on what they do not serve)
PORT_IN_FN = ctypes.CFUNCTYPE(ctypes.c_uint32, ctypes.c_uint32, ctypes.c_int32)
PORT_OUT_FN = ctypes.CFUNCTYPE(None, ctypes.c_uint32, ctypes.c_int32, ctypes.c_uint32)
CON_FN = ctypes.CFUNCTYPE(None)


_lib = None


def build(src=_SRC) -> str:
    """The shared object of a C file of machine/ (built on first use)."""
    with open(src, "rb") as f:
        code = f.read()
    digest = hashlib.sha256(code).hexdigest()[:16]
    name = os.path.splitext(os.path.basename(src))[0].lstrip("_")
    so = os.path.join(_BUILD, "%s-%s.so" % (name, digest))
    if os.path.exists(so):
        return so
    if shutil.which("gcc") is None:
        raise KernelImageError(
            "gcc not found: it is needed to build %s "
            "(install the Debian package `gcc`)" % os.path.relpath(src, os.path.dirname(_HERE)))
    os.makedirs(_BUILD, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=_BUILD)
    os.close(fd)
    try:
        subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", tmp, src],
                       check=True, capture_output=True)
        os.replace(tmp, so)
    except subprocess.CalledProcessError as e:
        os.unlink(tmp)
        raise RuntimeError("building %s failed:\n%s" % (src, e.stderr.decode()))
    return so


def lib():
    global _lib
    if _lib is None:
        l = ctypes.CDLL(build())
        l.vclock_bp_add.argtypes = [ctypes.POINTER(VClock), ctypes.c_uint64]
        l.vclock_bp_add.restype = ctypes.c_int
        l.vclock_bp_stops.argtypes = [ctypes.POINTER(VClock), ctypes.c_uint64]
        l.vclock_bp_stops.restype = ctypes.c_int
        l.vclock_bp_clear.argtypes = [ctypes.POINTER(VClock)]
        l.vclock_bp_clear.restype = None
        l.vclock_probe_add.argtypes = [ctypes.POINTER(VClock), ctypes.c_uint64]
        l.vclock_probe_add.restype = ctypes.c_int
        l.vclock_probe_clear.argtypes = [ctypes.POINTER(VClock)]
        l.vclock_probe_clear.restype = None
        l.vclock_blk_add.argtypes = [ctypes.POINTER(VClock), ctypes.c_uint64,
                                     ctypes.c_uint32, ctypes.c_uint32]
        l.vclock_blk_add.restype = ctypes.c_int
        l.vclock_blk_clear.argtypes = [ctypes.POINTER(VClock)]
        l.vclock_blk_clear.restype = None
        _lib = l
    return _lib


def new_clock() -> VClock:
    c = VClock()
    c.emu_stop = ctypes.cast(uclib.uc_emu_stop, ctypes.c_void_p).value
    c.reg_read = ctypes.cast(uclib.uc_reg_read, ctypes.c_void_p).value
    c.deadline = 0
    c.arm_pc = c.arm_addr = NO_ADDR
    return c


class Regs:
    """Integer registers of one engine straight through uc_reg_read and
    uc_reg_write, for the run loop's hot paths (an IRQ delivery reads and
    writes a dozen): the binding's reg_read picks a ctypes type per call
    and costs ~3x more.  Not for registers the binding returns as tuples
    (GDTR, IDTR, LDTR, TR, FP)."""

    def __init__(self, uc):
        self._uch = uc._uch
        self._buf = ctypes.c_uint64()
        self._ref = ctypes.byref(self._buf)

    def read(self, regid) -> int:
        status = _reg_read(self._uch, regid, self._ref)
        if status:
            raise UcError(status)
        return self._buf.value

    def write(self, regid, value):
        self._buf.value = value
        status = _reg_write(self._uch, regid, self._ref)
        if status:
            raise UcError(status)


def _hook(uc, clock, kind, fn, begin, end, user=None, *insn):
    """`user`: the clock already cast to a void pointer (an armed stop adds
    a hook per timer tick: the casts cost more than the call); `insn`: the
    instruction of a UC_HOOK_INSN hook."""
    h = ctypes.c_size_t()
    if not isinstance(fn, ctypes.c_void_p):
        fn = ctypes.cast(fn, ctypes.c_void_p)
    if user is None:
        user = ctypes.cast(ctypes.pointer(clock), ctypes.c_void_p)
    status = uclib.uc_hook_add(uc._uch, ctypes.byref(h), kind, fn, user,
                               ctypes.c_uint64(begin), ctypes.c_uint64(end),
                               *(ctypes.c_int(i) for i in insn))
    if status != 0:
        raise RuntimeError("uc_hook_add(vclock) failed: %d" % status)
    return h.value


# uc_ctl(UC_CTL_TB_REMOVE_CACHE, write, 2 args) without the binding's
# generic argument packing (it runs twice per armed stop)
_CTL_REMOVE_CACHE = (UC_CTL_IO_WRITE << 30) | (2 << 26) | UC_CTL_TB_REMOVE_CACHE


def _remove_cache(uc, begin, end):
    status = uclib.uc_ctl(uc._uch, _CTL_REMOVE_CACHE, ctypes.c_uint64(begin),
                          ctypes.c_uint64(end))
    if status:
        raise UcError(status)


# Inline instruction counting: uc_ctl types of the project's unicorn patch
# (scripts/unicorn/icount.diff); stock unicorn refuses them.
UC_CTL_ICOUNT_ENABLE = 15
UC_CTL_ICOUNT_COUNT = 16
UC_CTL_ICOUNT_LIMIT = 17
UC_CTL_ICOUNT_IF_STOP = 18
UC_CTL_ICOUNT_HALTED = 19
_CTL_READ, _CTL_WRITE = 2 << 30, 1 << 30


class Icount:
    """One engine's inline instruction counter (QEMU's icount, switched on
    by the patch): translated code counts, no hook runs per block.
    count(): instructions since enable(True), exact between runs and in the
    hooks of port I/O, MMIO and exceptions (an exception counts the
    instruction that raised it: it began); a code or memory hook in the
    middle of a block sees the whole block counted.  limit(n): emu_start
    returns after exactly n more instructions (also inside a block); the
    limit counts down across runs (NO_LIMIT: none).
    if_stop(on): it returns at the first block boundary where EFLAGS.IF is
    1.  halted(): the last emu_start ended in hlt."""

    def __init__(self, uc):
        self._uch = uc._uch
        self._u64 = ctypes.c_uint64()
        self._int = ctypes.c_int()

    @staticmethod
    def supported(uc) -> bool:
        v = ctypes.c_int()
        return uclib.uc_ctl(uc._uch, ctypes.c_int(UC_CTL_ICOUNT_ENABLE | 1 << 26 | _CTL_READ),
                            ctypes.byref(v)) == 0

    def _write(self, ctl, arg):
        status = uclib.uc_ctl(self._uch, ctypes.c_int(ctl | 1 << 26 | _CTL_WRITE), arg)
        if status:
            raise UcError(status)

    def _read(self, ctl, buf):
        status = uclib.uc_ctl(self._uch, ctypes.c_int(ctl | 1 << 26 | _CTL_READ),
                              ctypes.byref(buf))
        if status:
            raise UcError(status)
        return buf.value

    def enable(self, on):
        """On or off; a TB flush.  Not from a hook."""
        self._write(UC_CTL_ICOUNT_ENABLE, ctypes.c_int(1 if on else 0))

    def count(self) -> int:
        return self._read(UC_CTL_ICOUNT_COUNT, self._u64)

    def limit(self, n):
        self._write(UC_CTL_ICOUNT_LIMIT, ctypes.c_uint64(n))

    def if_stop(self, on):
        self._write(UC_CTL_ICOUNT_IF_STOP, ctypes.c_int(1 if on else 0))

    def halted(self) -> bool:
        return bool(self._read(UC_CTL_ICOUNT_HALTED, self._int))


def install(uc, clock: VClock) -> int:
    """The per-instruction hook on every address; returns its handle."""
    return _hook(uc, clock, UC_HOOK_CODE, lib().vclock_hook, 1, 0)


class PortIO:
    """One engine's IN and OUT hooks (vclock_in/vclock_out in _clock.c): the
    console UART's LSR and THR served natively, every other port by the
    host's `on_in(port, size) -> value` and `on_out(port, size, value)`.
    `drain()` passes the THR bytes held to `on_console(bytes)`; the hooks
    call `on_newline()`, which is to drain, after each newline (or when the
    buffer is full) and before passing on another port's access (so that
    devices and the console see one order).  Host callbacks run inside
    emu_start: an exception there stops the engine, and `reraise()` after
    emu_start raises it, as the unicorn binding does for its own hooks."""

    def __init__(self, uc, clock: VClock, on_in, on_out, on_console, on_newline):
        self.uc, self.c = uc, clock
        self.on_console = on_console
        self.error = None           # the first exception of a callback in this emu_start

        # the bytes of a partial line go out before any other port's access
        def port_in(port, size):
            if clock.ncon:
                on_newline()
            return on_in(port, size)

        def port_out(port, size, value):
            if clock.ncon:
                on_newline()
            on_out(port, size, value)
        self._thunks = (PORT_IN_FN(self._guard(port_in, 0xFFFFFFFF)),   # kept alive here
                        PORT_OUT_FN(self._guard(port_out)),
                        CON_FN(self._guard(on_newline)))
        clock.in_cb, clock.out_cb, clock.con_cb = (
            ctypes.cast(t, ctypes.c_void_p).value for t in self._thunks)
        clock.ncon = 0
        self.set_uart(None)
        l = lib()
        _hook(uc, clock, UC_HOOK_INSN, l.vclock_in, 1, 0, None, UC_X86_INS_IN)
        _hook(uc, clock, UC_HOOK_INSN, l.vclock_out, 1, 0, None, UC_X86_INS_OUT)

    def _guard(self, fn, failed=None):
        uc = self.uc

        def call(*args):
            try:
                return fn(*args)
            except BaseException as e:      # never unwind through unicorn
                if self.error is None:
                    self.error = e
                uc.emu_stop()
                return failed
        return call

    def reraise(self):
        """After emu_start: raise what a callback raised in it, if anything."""
        e, self.error = self.error, None
        if e is not None:
            raise e

    def set_uart(self, base, dlab=False):
        """The console UART's ports (None: none): LSR is read natively, THR
        written natively while DLAB is 0."""
        self.c.uart_lsr = 0 if base is None else base + 5
        self.c.uart_thr = 0 if base is None or dlab else base

    def drain(self):
        """Pass on the console bytes held natively."""
        c = self.c
        n = c.ncon
        if n:
            data = ctypes.string_at(ctypes.addressof(c.con), min(n, CON_SIZE))
            c.ncon = 0
            self.on_console(data)


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


def _may_set_if(mnemonic, op_str):
    """Can this instruction (capstone, Intel syntax) turn IF on?  sti, popf,
    iret, rsm, and a far jmp/call (a task switch loads EFLAGS): each ends
    its translation block (_clock.c)."""
    m = mnemonic.split()[-1]
    return (m.startswith(("sti", "popf", "iret", "rsm", "ljmp", "lcall"))
            or (m in ("jmp", "call") and op_str.startswith("ptr")))


class BlockClock:
    """Block mode of one engine (see _clock.c): the block hook, the decoded
    blocks, and the per-address hooks with their roles ("bp", "probe",
    "out": the instruction after an OUT, "arm": an in-block stop).
    `read_code(vaddr, size) -> bytes` reads guest code (virtual);
    `mapped(vaddr)` says whether the guest page tables map it."""

    def __init__(self, uc, clock: VClock, read_code, mapped):
        self.uc, self.c, self.read_code, self.mapped = uc, clock, read_code, mapped
        self.blocks = {}            # (pc, size) -> ((address, ...), {address: index})
        self.decoded = {}           # (pc, code bytes) -> ((address, mnemonic), ...)
        self.hooks = {}             # address -> uc hook handle
        self.roles = {}             # address -> set of roles
        self.idle = {}              # hooked addresses without a role, oldest first
        self.idle_used = 0          # icount when an idle hook was last kept or reused
        self.keep_arm = False       # a single step: keep its "arm" hook idle
        self.armed = None           # the address of an "arm" hook
        self.per_insn_hook = None
        self.md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
        self._decode_thunk = DECODE_FN(self._on_decode)     # kept alive here
        self._addr_fn = ctypes.cast(lib().vclock_addr, ctypes.c_void_p)
        self._user = ctypes.cast(ctypes.pointer(clock), ctypes.c_void_p)
        clock.decode_cb = ctypes.cast(self._decode_thunk, ctypes.c_void_p).value
        self.block_hook = _hook(uc, clock, UC_HOOK_BLOCK, lib().vclock_block, 1, 0)
        clock.per_insn = 0
        self.mode = "block"
        self.ic = Icount(uc) if Icount.supported(uc) else None
        self.ic_seen = 0            # the engine's count when icount was last synced
        self.recheck = False        # icount mode: a hook stopped to look again
        self.clear_blocks()

    # ------------------------------------------------------------ modes
    def set_per_insn(self, on):
        """Per-instruction mode on, or off (block mode)."""
        self.set_mode("insn" if on else "block")

    def set_mode(self, mode):
        """"insn" (per instruction), "block" or "icount" (the engine counts:
        Icount; no block hook then, whose mere presence costs a call per
        block).  A TB flush when it changes; between runs only."""
        old = self.mode
        if mode == old:
            return
        if mode == "icount" and self.ic is None:
            raise ValueError("this unicorn cannot count instructions inline")
        uch = self.uc._uch
        # The address hooks have nothing to do in per-instruction mode, and
        # each code hook costs every hooked instruction a look at it: only
        # one of the two kinds exists at a time.
        if old == "insn":
            uclib.uc_hook_del(uch, ctypes.c_size_t(self.per_insn_hook))
            self.per_insn_hook = None
            for addr in self.roles:
                self.hooks[addr] = self._addr_hook(addr)
        elif mode == "insn":
            for h in self.hooks.values():
                uclib.uc_hook_del(uch, ctypes.c_size_t(h))
            self.hooks.clear()
            self.idle.clear()
            self.per_insn_hook = install(self.uc, self.c)
        if old == "icount":
            self.ic.enable(False)
            self.block_hook = _hook(self.uc, self.c, UC_HOOK_BLOCK, lib().vclock_block, 1, 0)
        elif mode == "icount":
            uclib.uc_hook_del(uch, ctypes.c_size_t(self.block_hook))
            self.block_hook = None
            self.ic.enable(True)
        c = self.c
        c.per_insn = 1 if mode == "insn" else 0
        c.probe_stop = 1 if mode == "icount" else 0
        c.probe_done = 0
        c.blk_n = c.blk_done = 0
        self.mode = mode
        self.uc.ctl_flush_tb()

    # ------------------------------------------------------- icount mode
    def begin_run(self, target, if_stop):
        """Icount mode, before emu_start: run at most up to icount `target`,
        and stop at the first block boundary with IF=1 when `if_stop`."""
        ic = self.ic
        ic.limit(target - self.c.icount)
        ic.if_stop(if_stop)
        self.ic_seen = ic.count()

    def boundary(self):
        """Icount mode, at an instruction boundary: the clock's stop there
        (_clock.c's contract, in its order), or 0 to run on.  An IRQ window
        waiting for IF notes that IF is seen here."""
        c = self.c
        recheck, self.recheck = self.recheck, False
        if c.stop_req:
            return STOP_REQUESTED
        if c.nbp and lib().vclock_bp_stops(ctypes.byref(c), self.eip()):
            return STOP_BREAKPOINT
        if c.icount >= c.deadline:
            return STOP_DEADLINE
        if c.irq_armed:
            if c.irq_at and c.icount >= c.irq_at:
                return STOP_IRQ_WINDOW
            if not c.irq_at and _reg32(self.uc, UC_X86_REG_EFLAGS) & 0x200:
                c.irq_at = c.icount + 1         # the `sti` shadow: one more
        if recheck:
            return STOP_DEADLINE                # a transparent stop: look again
        return 0

    def clear_blocks(self):
        """Forget instruction counts (code may have changed)."""
        lib().vclock_blk_clear(ctypes.byref(self.c))
        self.blocks.clear()

    # ----------------------------------------------------- address hooks
    def _addr_hook(self, addr):
        return _hook(self.uc, self.c, UC_HOOK_CODE, self._addr_fn, addr, addr, self._user)

    # A hook takes effect only in code translated after it is added, and
    # stops costing only in code translated after it is deleted: each costs a
    # retranslation (~10-40 us).  gdb removes a breakpoint to step over it and
    # puts it back (z0, vCont;s, Z0, vCont;c at every hit), and each single
    # step arms a stop at the next instruction: those hooks stay, idle (a
    # role-less address costs a native call that does nothing, and changes
    # nothing: vclock_addr acts on roles), for reuse.  At most IDLE_MAX, and
    # all go once IDLE_RUN instructions pass without a reuse, so a hot loop
    # that kept one is slowed for a few milliseconds at most.
    def add_role(self, addr, role, mapped=False):
        """`mapped`: the caller knows the guest maps addr (code running)."""
        if addr in self.idle:
            del self.idle[addr]
            self.idle_used = self.c.icount
        elif addr not in self.hooks and self.per_insn_hook is None:
            self.hooks[addr] = self._addr_hook(addr)
            self._retranslate(addr, mapped)
        self.roles.setdefault(addr, set()).add(role)

    def drop_role(self, addr, role, keep=False, mapped=False):
        """`keep`: leave the hook idle for reuse (see above)."""
        roles = self.roles.get(addr)
        if not roles or role not in roles:
            return
        roles.discard(role)
        if not roles:
            del self.roles[addr]
            if addr not in self.hooks:
                return
            if not keep:
                self._unhook(addr, mapped)
                return
            self.idle[addr] = None
            self.idle_used = self.c.icount
            if len(self.idle) > IDLE_MAX:
                self._unhook(next(iter(self.idle)))

    def _unhook(self, addr, mapped=False):
        self.idle.pop(addr, None)
        uclib.uc_hook_del(self.uc._uch, ctypes.c_size_t(self.hooks.pop(addr)))
        self._retranslate(addr, mapped)

    def drop_idle(self, unless_used_within=0):
        """Delete the idle hooks (all, or only if none was kept or reused in
        the last `unless_used_within` instructions)."""
        if self.idle and abs(self.c.icount - self.idle_used) >= unless_used_within:
            for addr in list(self.idle):
                self._unhook(addr)

    def _retranslate(self, addr, mapped=False):
        """A hook only fires in code translated after it was added.  Unicorn
        translates the address to invalidate it, and on an unmapped one
        clobbers the guest's CR2: no code is translated there anyway."""
        if mapped or self.mapped(addr):
            _remove_cache(self.uc, addr, addr + 1)

    # ------------------------------------------------------------ blocks
    def decode(self, pc, size, hooks_now=True):
        """Learn the block (pc, size) from guest memory: its instruction
        count for the block hook, the index of each instruction, and a hook
        after each OUT.  The count, or 0: it cannot be decoded exactly, or
        (hooks_now False) it needs a hook that is not there yet."""
        buf = ctypes.create_string_buffer(size)
        if _vmem_read(self.uc._uch, pc, UC_PROT_EXEC, buf, size) == 0:
            code = buf.raw
        else:
            try:
                code = self.read_code(pc, size)
            except Exception:
                return 0
        insns = self.decoded.get((pc, code))
        if insns is None:
            insns, end = [], pc
            for a, n, m, op in self.md.disasm_lite(code, pc):
                insns.append((a, m, op))
                end = a + n
            if not insns or end != pc + size:
                return 0
            insns = self.decoded[(pc, code)] = tuple(insns)
        outs = [insns[i + 1][0] for i, (_, m, _) in enumerate(insns[:-1])
                if m.split()[-1].startswith("out")]
        if not hooks_now and any(a not in self.hooks for a in outs):
            return 0
        for a in outs:
            self.add_role(a, "out")
        self.blocks[(pc, size)] = (tuple(a for a, _, _ in insns),
                                   {a: i for i, (a, _, _) in enumerate(insns)})
        entry = len(insns) | (BLK_SETS_IF if _may_set_if(*insns[-1][1:]) else 0)
        l, c = lib(), ctypes.byref(self.c)
        if l.vclock_blk_add(c, pc, size, entry) != 0:
            l.vclock_blk_clear(c)
            l.vclock_blk_add(c, pc, size, entry)
        return len(insns)

    def _on_decode(self, pc, size):
        # inside the block hook: no new hook can take effect in this block
        try:
            return self.decode(pc, size, hooks_now=False)
        except Exception:                   # never unwind through unicorn
            return 0

    def _block(self):
        c = self.c
        return self.blocks[(c.blk_pc, c.blk_size)]

    def eip(self):
        return _reg32(self.uc, UC_X86_REG_EIP)

    def sync(self, addr=None, begun=True, whole=False, last=False):
        """Inside a host hook at instruction `addr` (default: EIP) of the
        running block: bring icount to the instructions begun (the one at
        addr too when `begun`; all of the block when `whole`).  `last`: the
        rest of the block will not run (an exception leaves it)."""
        c = self.c
        if self.mode == "icount":
            n = self.ic.count()
            c.icount += n - self.ic_seen
            self.ic_seen = n
            return
        if c.per_insn or c.blk_n == 0:
            return
        k = None if whole else self._block()[1].get(self.eip() if addr is None else addr)
        done = c.blk_n if k is None else k + (1 if begun else 0)
        if done > c.blk_done:
            c.icount += done - c.blk_done
            c.blk_done = done
        if last:
            c.blk_n = c.blk_done

    def settle(self, stopped_at=None):
        """After emu_start: the running block ran to its end, or up to
        `stopped_at` (an instruction that did not begin)."""
        c = self.c
        if self.mode == "icount":
            self.sync()
        elif stopped_at is not None:
            self.sync(stopped_at, begun=False)
        else:
            c.icount += c.blk_n - c.blk_done
        c.blk_n = c.blk_done = 0
        self.disarm()

    def redo(self, pc, began):
        """After emu_start: the instruction at pc is to run again from the
        start (a refused TLB fill, machine/mmu.py).  `began`: it had begun
        (counted, its hooks ran: a breakpoint there was passed, so the rerun
        resumes over it); else it was being fetched and the running block
        ran to its end."""
        c = self.c
        if not began:
            self.settle()
            return
        if self.mode == "icount":
            self.sync()         # the refused instruction was not counted
        elif c.per_insn:
            c.icount -= 1
        elif c.blk_n:
            c.icount += self._block()[1][pc] - c.blk_done
            c.blk_n = c.blk_done = 0
        self.disarm()
        c.skip_pending, c.skip_addr = 1, pc

    def arm(self, pc, k):
        """STOP_ARM: stop before instruction k of the block at pc (entered at
        the current icount).  The hook there lives for one emu_start (a hook
        left on a hot loop would cost at every pass)."""
        c = self.c
        addr = self.blocks[(pc, c.blk_size)][0][k]
        self.add_role(addr, "arm", mapped=True)     # in the block that just began
        self.armed = addr
        c.arm_pc, c.arm_icount, c.arm_k, c.arm_addr = pc, c.icount, k, addr

    def disarm(self):
        c = self.c
        c.arm_pc = c.arm_addr = NO_ADDR
        if self.armed is not None:
            self.drop_role(self.armed, "arm", keep=self.keep_arm)
            self.armed = None

    def arm_next(self):
        """From a host hook (an OUT): stop before the next instruction of the
        running block (the block hook checks at the next block start)."""
        c = self.c
        if self.mode == "icount":
            # IN/OUT and MMIO end their block when the engine counts: the
            # stop comes right after this instruction
            self.recheck = True
            self.uc.emu_stop()
            return
        if c.per_insn or c.blk_done >= c.blk_n:
            return
        k = c.blk_done
        addr = self._block()[0][k]
        c.arm_pc, c.arm_icount, c.arm_k, c.arm_addr = c.blk_pc, c.icount - k, k, addr
