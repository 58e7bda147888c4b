"""Execution history for reverse debugging: snapshots + deterministic replay.

`TimeMachine(machine)` wraps a Machine and adds what gdb's reverse
execution, watchpoints, range stepping and extended-remote restarts need:

  cont(max_insns) / step()           forward, recording history
  write_memory / write_register / write_phys / deliver_caught_exception
                                     the debugger's changes, recorded
  add_watchpoint / remove_watchpoint  write/read/access watchpoints (watch.py)
  reverse_step() / reverse_cont()    back one instruction / back to the last
                                     breakpoint or watchpoint hit
  range_step(start, end)             step while start <= pc < end
  restart()                          reset to the first instruction, new history

Of the machine, only what history need not record passes through
(PASS_THROUGH: reads, breakpoints, probes, listeners, a stop request);
restore() and snapshot() are refused (they would move the machine behind
history's back), and so is anything else the wrapper does not name.

Positions.  The machine is deterministic: its state is a function of the
instruction count (virtual time) and of what the debugger did (single steps
never deliver IRQs; memory/register writes).  One icount can name two
states: before and after the service point (PIT advance, IRQ delivery) of
that count.  A position is (icount, serviced): every instruction run inside
cont() starts at a serviced position (servicing mid-run is a no-op), one run
by step() at an unserviced one; breakpoint stops are serviced, limit and
watchpoint stops are not (cont(service_at_limit=False)).

History = snapshots at unserviced positions (CPU context, devices, clock,
and RAM as 4 KiB pages shared between snapshots: only the pages that changed
since the previous snapshot are stored: the pages written since then
(machine/dirty.py: write faults, a cost that follows what the guest wrote)
compared against a shadow copy) + a log of what cannot be recomputed from the count alone
(steps, services before a step, debugger writes).  Going to a past position
restores the nearest snapshot before it and replays forward (breakpoints
off); a replay far from its snapshot leaves a new snapshot near its end, so
repeated reverse-stepi stays fast.  reverse_cont() replays segment by
segment backwards, recording breakpoint and watchpoint hits, and goes to the
last hit before the current position.

Going forward from a past position discards the future (it is recomputed,
identically unless the debugger does something different).  Memory is
bounded (`mem_limit`, default 1 GiB): the oldest snapshots are dropped and
history then begins at the oldest one kept (gdb hears `replaylog:begin`).
"""
import bisect
import contextlib
import ctypes

import numpy as np

from .dirty import DirtyPages
from .stop import Reason, Stop
from .watch import Watchpoints, KIND_BY_Z  # noqa: F401  (re-exported)

PAGE = 4096
DEFAULT_MEM = 1 << 30
_BLOCK = 256 << 10                 # bytes compared at once by _dirty (divides RAM sizes)
_memcmp = ctypes.CDLL(None).memcmp
_memcmp.restype = ctypes.c_int
_memcmp.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
DEFAULT_INTERVAL = 2_000_000      # instructions between periodic snapshots
NEAR = 100_000                    # a replay longer than this leaves a snapshot
RANGE_STEP_MAX = 200_000          # steps per range-step request
LOG_ENTRY = 256                   # bytes a log entry costs (tuple, ints, list slots, a step's set entry)
LOG_SNAP_MAX = 16 << 20           # log bytes after the newest snapshot that make a new one
HOT_WATCH = DEFAULT_INTERVAL      # instructions counted one by one after a watchpoint hit


def _cost(kind, data) -> int:
    """Memory one log entry holds: a memory write keeps its payload."""
    return LOG_ENTRY + (len(data[2]) if kind == "write" and data[0] in ("mem", "phys") else 0)


class _Snap:
    __slots__ = ("icount", "ids", "state", "logidx", "nbytes", "serviced")

    def __init__(self, icount, ids, state, logidx, serviced=False):
        self.icount, self.ids, self.state, self.logidx = icount, ids, state, logidx
        # taken after the service point of icount (debugger writes while
        # stopped at a breakpoint); a position before it never starts here
        self.serviced = serviced


# What TimeMachine passes through to its Machine: reading state, and what
# history need not record (replays turn breakpoints off; probes and
# listeners observe; a stop request is the caller's).  The devices are for
# inspection.
PASS_THROUGH = frozenset((
    "icount", "halted", "halted_at", "irqs_delivered", "console_output",
    "kernel_path", "cmdline", "ram_size", "boot", "REGISTER_NAMES",
    "read_register", "read_registers", "read_memory", "read_phys", "translate",
    "disassemble", "caught_exception", "breakpoints", "probes", "probe_errors",
    "pic", "pit", "uart",
    "add_breakpoint", "remove_breakpoint", "add_probe", "remove_probe",
    "add_listener", "remove_listener", "request_stop",
    "ncpus", "cpu", "cpu_state", "on_cpu",
))
REFUSED = {
    "restore": "use reverse_step/reverse_cont: restore() would move the machine behind history's back",
    "snapshot": "history keeps its own snapshots",
}


class TimeMachine:
    def __init__(self, machine, mem_limit=DEFAULT_MEM, interval=DEFAULT_INTERVAL):
        self.m = machine
        self.mem_limit = int(mem_limit)
        self.interval = int(interval)
        self.watch = Watchpoints(machine)
        self._init_pages()
        self._new_history()

    def __getattr__(self, name):
        if name in PASS_THROUGH:
            return getattr(self.m, name)
        if name in REFUSED:
            raise AttributeError("TimeMachine.%s is refused: %s" % (name, REFUSED[name]))
        raise AttributeError("TimeMachine has no %r (not passed through to the machine)" % (name,))

    @property
    def catch_exceptions(self):
        return self.m.catch_exceptions

    @catch_exceptions.setter
    def catch_exceptions(self, on):
        raise AttributeError("set catch_exceptions on the Machine before wrapping it: "
                             "history does not record a change")

    # ------------------------------------------------------------ pages
    def _init_pages(self):
        self.npages = self.m.ram_size // PAGE
        self._ram = np.frombuffer(self.m.ram, dtype=np.uint8).reshape(self.npages, PAGE)
        self._shadow = np.zeros((self.npages, PAGE), dtype=np.uint8)
        self._shadow_ids = np.zeros(self.npages, dtype=np.int64)  # 0: zero page
        self._store = {}                  # page version id -> bytes
        self._refs = {}                   # page version id -> snapshots using it
        self._next_id = 1
        self._written = DirtyPages(self.m.ram, self._ram.ctypes.data, self.m.ram_size)

    def _dirty(self):
        """Pages whose live content differs from the shadow: among the pages
        written since the shadow was last in sync (self._written), or, when
        that is not known, all of them: memcmp over 256 KiB blocks first (no
        temporaries: most of RAM is unchanged between snapshots), then page
        by page inside the blocks that differ."""
        written = self._written.pages()
        if written is not None:
            if not len(written):
                return written
            r = self._ram[written].view(np.uint64)
            sh = self._shadow[written].view(np.uint64)
            return written[(r != sh).any(axis=1)]
        per = _BLOCK // PAGE
        ram, shadow = self._ram.ctypes.data, self._shadow.ctypes.data
        found = []
        for p0 in range(0, self.npages, per):
            if _memcmp(ram + p0 * PAGE, shadow + p0 * PAGE, _BLOCK):
                r = self._ram[p0:p0 + per].view(np.uint64)
                sh = self._shadow[p0:p0 + per].view(np.uint64)
                found.append(np.flatnonzero((r != sh).any(axis=1)) + p0)
        return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)

    def _take(self, logidx=None, serviced=False):
        m = self.m
        ids = self._shadow_ids.copy()
        for i in self._dirty():
            self._shadow[i] = self._ram[i]
            if not self._shadow[i].any():
                ids[i] = 0
                continue
            pid = self._next_id
            self._next_id += 1
            self._store[pid] = self._shadow[i].tobytes()
            ids[i] = pid
        self._shadow_ids = ids
        self._written.arm()             # RAM == shadow from here on
        for pid in np.unique(ids[ids > 0]).tolist():
            self._refs[pid] = self._refs.get(pid, 0) + 1
        snap = _Snap(m.icount, ids, m.snapshot(ram=False),
                     len(self.log) if logidx is None else logidx, serviced)
        return snap

    def _release(self, snap):
        for pid in np.unique(snap.ids[snap.ids > 0]).tolist():
            n = self._refs.get(pid, 0) - 1
            if n <= 0:
                self._refs.pop(pid, None)
                self._store.pop(pid, None)
            else:
                self._refs[pid] = n

    def _restore(self, snap):
        m = self.m
        todo = set(self._dirty().tolist())
        todo.update(np.flatnonzero(snap.ids != self._shadow_ids).tolist())
        for i in todo:
            pid = int(snap.ids[i])
            if pid:
                self._shadow[i] = np.frombuffer(self._store[pid], dtype=np.uint8)
            else:
                self._shadow[i] = 0
            self._ram[i] = self._shadow[i]
        self._shadow_ids = snap.ids.copy()
        self._written.arm()             # RAM == shadow from here on
        m.restore(snap.state)
        self.watch.refresh()

    def memory_used(self):
        """Bytes held by history: stored pages + per-snapshot tables + the
        log (single steps, debugger writes with their payloads)."""
        return (len(self._store) * PAGE + len(self.snaps) * (self.npages * 8 + 4096)
                + self.log_bytes)

    # ---------------------------------------------------------- history
    def _new_history(self):
        for s in getattr(self, "snaps", ()):
            self._release(s)
        self.snaps = []
        self.log = []                 # [(icount, kind, data)]
        self.log_bytes = 0            # what the log holds (_cost)
        self.unsnapped = 0            # log bytes since the newest snapshot
        self.log_icounts = []
        self.steps = set()            # icounts where an instruction ran by step()
        self.serviced = False
        self.snaps.append(self._take(0))
        self.next_snap = self.m.icount + self.interval
        self.dropped = 0
        self.frontier = self.m.icount     # the latest point recorded

    @property
    def position(self):
        return (self.m.icount, self.serviced)

    @property
    def history_begin(self):
        return (self.snaps[0].icount, False)

    def _log(self, kind, data=None):
        self.log.append((self.m.icount, kind, data))
        self.log_icounts.append(self.m.icount)
        if kind == "step":
            self.steps.add(self.m.icount)
        cost = _cost(kind, data)
        self.log_bytes += cost
        self.unsnapped += cost

    def _log_bounded(self):
        """After logging at the frontier: a snapshot once the log since the
        newest one is big (vCont;r0,ffffffff is 200,000 steps; X writes
        carry their payloads), so old history and its log can be dropped
        within mem_limit, and a replay stays short."""
        if (self.unsnapped > min(LOG_SNAP_MAX, self.mem_limit // 16)
                or self.m.icount >= self.next_snap):
            self._snapshot_now()
            self.next_snap = self.m.icount + self.interval
        else:
            self._bound()

    def _drop_log(self, start, end):
        self.log_bytes -= sum(_cost(k, d) for _, k, d in self.log[start:end])
        del self.log[start:end]
        del self.log_icounts[start:end]

    def _snapshot_now(self):
        snap = self._take(serviced=self.serviced)
        i = bisect.bisect_right([s.icount for s in self.snaps], snap.icount)
        self.snaps.insert(i, snap)
        self.unsnapped = 0
        self._bound()

    def _bound(self):
        self._cut_log()
        while len(self.snaps) > 1 and self.memory_used() > self.mem_limit:
            old = self.snaps.pop(0)
            self._release(old)
            self.dropped += 1
            self._cut_log()

    def _cut_log(self):
        """Log entries before the first snapshot are never replayed again
        (writes made while stopped included: they are in the snapshot)."""
        cut = self.snaps[0].logidx
        if cut:
            self._drop_log(0, cut)
            for s in self.snaps:
                s.logidx -= cut
            begin = self.snaps[0].icount
            self.steps = {t for t in self.steps if t >= begin}

    def _truncate_future(self):
        """Going forward from here: drop history after the current position."""
        t = self.m.icount
        keep = []
        for s in self.snaps:
            if (s.icount, s.serviced) <= (t, self.serviced):
                keep.append(s)
            else:
                self._release(s)
        self.snaps = keep
        k = len(self.log)
        while k and (self.log[k - 1][0] > t or (self.log[k - 1][0] == t
                                                 and self.log[k - 1][1] not in ("write", "deliver"))):
            k -= 1
        self._drop_log(k, len(self.log))
        self.unsnapped = sum(_cost(kd, d) for _, kd, d in self.log[self.snaps[-1].logidx:])
        self.steps = {s for s in self.steps if s < t}
        self.next_snap = max(self.snaps[-1].icount + self.interval, t + 1)
        self.live = True
        self.m.notify_rewind(t)     # e.g. a probe consumer drops events from t on

    live = True
    _insn_clock_until = None          # per-instruction clock until this icount (watch hits)

    # ----------------------------------------------------------- replay
    def _run_to(self, t, scan=None):
        """Forward with cont() to icount t (unserviced), breakpoints off
        unless scanning (then hits are recorded in scan)."""
        m = self.m
        if scan is not None and m.icount < t:
            # cont() would run the first instruction without reporting a
            # breakpoint there: service (as that cont() does first) and look
            m.service()
            if m.read_register("eip") in m.breakpoints:
                scan.append(((m.icount, True), "bp", None))
        while m.icount < t:
            stop = m.cont(t - m.icount, service_at_limit=False)
            if stop.reason == Reason.BREAKPOINT:
                if scan is not None:
                    scan.append(((m.icount, True), "bp", None))
                continue
            if stop.reason == Reason.FAULT and m.icount < t:
                # caught exception (catch_exceptions): what the debugger did
                # then is in the log (a 'deliver' entry at this count, or
                # nothing: the instruction ran again)
                continue
            if stop.reason not in (Reason.LIMIT, Reason.STOP_REQUESTED, Reason.HALTED):
                break

    def _goto(self, pos, scan=None, near=True, snap_index=None):
        """Restore the latest snapshot at or before pos (or snaps[snap_index])
        and replay to pos."""
        t, serviced = pos
        i = snap_index
        if i is None:
            i = max(0, bisect.bisect_right([s.icount for s in self.snaps], t) - 1)
            while i > 0 and self.snaps[i].serviced and (t, serviced) < (self.snaps[i].icount, True):
                i -= 1          # taken after the service point: later than pos
        snap = self.snaps[i]
        self._restore(snap)
        # a scan looks for breakpoint hits; a plain replay runs past them
        bps = self.m.breakpoints_off() if scan is None else contextlib.nullcontext()
        try:
            with bps:
                self._replay(snap, pos, scan, near)
        finally:
            self.watch.record = None
        self.serviced = serviced
        self.live = False

    def _replay(self, snap, pos, scan, near):
        """From snap (restored) forward to pos, doing the log's steps,
        services and debugger writes at their counts."""
        t, serviced = pos
        m = self.m
        self.watch.record = scan_w = ([] if scan is not None else None)
        if scan is None:
            self.watch.record = []          # replaying: hits are not stops
        pending_snap = near and scan is None and t - snap.icount > NEAR
        mark = t - NEAR // 2
        j_next = len(self.log)
        for j in range(snap.logidx, len(self.log)):
            at, kind, data = self.log[j]
            if at > t or (at == t and kind not in ("write", "deliver")):
                j_next = j
                break
            if pending_snap and at > mark:
                self._run_to(mark, scan)
                self._leave_snapshot(j)
                pending_snap = False
            self._run_to(at, scan)
            if kind == "svc":
                m.service()
            elif kind == "step":
                if scan is not None and m.read_register("eip") in m.breakpoints:
                    scan.append(((at, j > 0 and self.log[j - 1][1] == "svc"
                                  and self.log[j - 1][0] == at), "bp", None))
                n0 = len(scan_w) if scan_w is not None else 0
                m.step()
                if scan_w is not None:
                    flag = j > 0 and self.log[j - 1][1] == "svc" and self.log[j - 1][0] == at
                    for h in scan_w[n0:]:
                        scan.append(((h[0], flag), h[1], h[2]))
                    del scan_w[n0:]
            elif kind == "deliver":
                m.deliver_caught_exception()
            elif kind == "write":
                what, a, v = data
                if what == "mem":
                    m.write_memory(a, v)
                elif what == "phys":
                    m.write_phys(a, v)
                elif what == "cpu":
                    m.select_cpu(a)
                else:
                    m.write_register(a, v)
        if pending_snap and m.icount < mark:
            self._run_to(mark, scan)
            self._leave_snapshot(j_next)
        self._run_to(t, scan)
        if serviced:
            m.service()
        if scan_w:
            for h in scan_w:
                scan.append(((h[0], True), h[1], h[2]))

    def _leave_snapshot(self, logidx):
        """A snapshot here, during a replay (the log index is where replay is)."""
        snap = self._take(logidx)
        i = bisect.bisect_right([s.icount for s in self.snaps], snap.icount)
        self.snaps.insert(i, snap)
        self._bound()

    # ---------------------------------------------------------- forward
    def _forward(self):
        self.watch.hits.clear()
        if not self.live:
            self._truncate_future()

    def _watch_stop(self):
        hit = self.watch.take_hit()
        if hit is None:
            return None
        if self.m.icount > hit[0] + 1:
            # The block clock cannot stop inside a block: the accessing
            # instruction's block ran on to its end.  Back to just after
            # that instruction: restore and replay exactly (the overshoot
            # is undone; listeners hear "rewind" when the run goes on).
            self._goto((hit[0] + 1, False))
        # Hits come in bursts (a variable in use): for a while the clock
        # counts before every instruction, where a hit stops with no replay.
        self._insn_clock_until = self.m.icount + HOT_WATCH
        self.m.per_instruction_clock(True)
        self.watch.refresh()
        return Stop(Reason.WATCHPOINT, self.m.read_register("eip"), watch=(hit[1], hit[2]))

    def cont(self, max_insns=None):
        m = self.m
        self._forward()
        end = None if max_insns is None else m.icount + max(0, int(max_insns))
        while True:
            if self._insn_clock_until is not None and m.icount >= self._insn_clock_until:
                self._insn_clock_until = None       # no hit for a while: blocks again
                m.per_instruction_clock(False)
            lim = self.next_snap
            if end is not None:
                lim = min(lim, end)
            stop = m.cont(max(0, lim - m.icount), service_at_limit=False)
            w = self._watch_stop()
            if w is not None:
                self.serviced = False
                self.frontier = m.icount
                return w
            # a slice's end and a requested stop come before the count's service point
            self.serviced = stop.reason not in (Reason.LIMIT, Reason.STOP_REQUESTED)
            if stop.reason == Reason.LIMIT and m.icount >= self.next_snap:
                self._snapshot_now()
                self.next_snap = m.icount + self.interval
                if end is None or m.icount < end:
                    continue
            self.watch.refresh()
            self.frontier = m.icount
            return stop

    def step(self):
        m = self.m
        self._forward()
        if self.serviced:
            self._log("svc")
        self._log("step")
        stop = m.step()
        self.serviced = False
        self.frontier = m.icount
        w = self._watch_stop()
        self._log_bounded()
        return w if w is not None else stop

    def range_step(self, start, end):
        """Step while start <= pc < end; stops early at a breakpoint or a
        watchpoint inside the range (as gdb would see with single steps)."""
        m = self.m
        stop = None
        for _ in range(RANGE_STEP_MAX):
            stop = self.step()
            if stop.reason != Reason.STEP:
                return stop
            pc = m.read_register("eip")
            if not (start <= pc < end):
                return stop
            if pc in m.breakpoints:
                return Stop(Reason.BREAKPOINT, pc)
        return stop

    # ---------------------------------------------------------- reverse
    def _history_stop(self):
        return Stop(Reason.HISTORY, self.m.read_register("eip"))

    def _prev_instruction(self, t):
        """Position of the instruction that ran from t-1 (idle gaps skipped)."""
        if t - 1 in self.steps:
            return (t - 1, self._svc_before_step(t - 1))
        return (t - 1, True)

    def _svc_before_step(self, t):
        k = bisect.bisect_left(self.log_icounts, t)
        return k < len(self.log) and self.log[k][0] == t and self.log[k][1] == "svc"

    def reverse_step(self):
        m = self.m
        t = m.icount
        if (t, self.serviced) <= self.history_begin or t <= self.snaps[0].icount:
            self._goto(self.history_begin)
            return self._history_stop()
        pos = self._prev_instruction(t)
        self._goto(pos)
        h = m.halted_at
        if m.halted and h is not None and h < pos[0] and h - 1 >= self.snaps[0].icount:
            # inside an idle gap: the previous instruction is the hlt itself
            self._goto(self._prev_instruction(h))
        return Stop(Reason.STEP, m.read_register("eip"))

    def reverse_cont(self, max_segments=None):
        """Back to the last breakpoint or watchpoint hit before now, or to
        the beginning of history.  With max_segments, give up after scanning
        that many snapshot segments: the machine is left at the start of the
        last one scanned (a real past state) and the stop is "limit"; calling
        again goes on from there (a debugger polls for Ctrl-C in between)."""
        now = self.position
        bounds = [s.icount for s in self.snaps]
        i = bisect.bisect_right(bounds, now[0]) - 1
        if i > 0 and now == (bounds[i], False):
            i -= 1          # at a snapshot (where a sliced call left off): nothing after it to scan
        end = now
        while i >= 0:
            start = self.snaps[i].icount
            hits = []
            self._goto(end, scan=hits, near=False, snap_index=i)
            hits = [h for h in hits if h[0] < end]
            if hits:
                pos, what, data = max(hits, key=lambda h: h[0])
                self._goto(pos)
                pc = self.m.read_register("eip")
                if what == "bp":
                    return Stop(Reason.BREAKPOINT, pc)
                return Stop(Reason.WATCHPOINT, pc, watch=(what, data))
            end = (start, False)
            i -= 1
            if max_segments is not None and i >= 0:
                max_segments -= 1
                if max_segments <= 0:
                    self._goto(end)
                    return Stop(Reason.LIMIT, self.m.read_register("eip"))
        self._goto(self.history_begin)
        return self._history_stop()

    # ------------------------------------------------- debugger actions
    def write_memory(self, vaddr, data):
        self.m.write_memory(vaddr, data)
        self._forward()
        self._log("write", ("mem", vaddr, bytes(data)))
        self._log_bounded()

    def write_register(self, name, value):
        self.m.write_register(name, value)
        self._forward()
        self._log("write", ("reg", name, value))
        self._log_bounded()

    def write_phys(self, paddr, data):
        self.m.write_phys(paddr, data)
        self._forward()
        self._log("write", ("phys", paddr, bytes(data)))
        self._log_bounded()

    def select_cpu(self, k):
        """The debugger makes CPU k the running one (machine.select_cpu)."""
        if k == self.m.cpu:
            return
        self.m.select_cpu(k)
        self._forward()
        self._log("write", ("cpu", k, None))

    def deliver_caught_exception(self):
        """gdb continues with the signal of a caught exception: deliver it
        (machine.deliver_caught_exception), and remember that it did."""
        self._forward()
        self._log("deliver")
        return self.m.deliver_caught_exception()

    def add_watchpoint(self, kind, vaddr, length):
        self.watch.add(kind, vaddr, length)

    def remove_watchpoint(self, kind, vaddr, length):
        self.watch.remove(kind, vaddr, length)

    def restart(self):
        """Back to the first instruction (icount 0); history starts again."""
        self.m.reset()
        self._written.mark_all()        # reset zeroes RAM without writing it
        self._insn_clock_until = None   # a new engine: block clock
        self.watch.install()            # on the new engine
        self.live = True
        self._new_history()

    reset = restart

    def history_info(self):
        return ("history: icount %d..%d, now at %d, %d snapshots, %.1f MiB (limit %.0f MiB)%s\n"
                % (self.snaps[0].icount, self.frontier, self.m.icount, len(self.snaps),
                   self.memory_used() / 2**20, self.mem_limit / 2**20,
                   ", %d oldest dropped" % self.dropped if self.dropped else ""))
