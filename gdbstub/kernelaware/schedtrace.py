"""Scheduling trace of the guest kernel, recorded from outside it.

Probes (machine.Machine.add_probe: native, guest-invisible, no breakpoint,
nothing written to guest memory) on the entry of seven kernel functions:

  __switch_to(prev, next)        the context switch: current_task changes here
  wake_up_process(p)             a wake-up (from a task or the timer interrupt)
  complete(x)                    a completion signalled; its first waiter
  kthread_create(fn, data, fmt, ...)   a task asks kthreadd for a thread
  create_kthread(create)         kthreadd forks one request
  kthread(create)                the new thread's first C function
  start_secondary()              an application processor comes online

Each probe reads its arguments as the i386 calling convention of this build
puts them at the first instruction (-mregparm=3 from the CU's DW_AT_producer:
eax, edx, ecx; all on the stack for a variadic function such as
kthread_create), reads `current_task` and the tasks' pid/comm/state with the
layout that oskernel.py learnt from the kernel's DWARF, and appends a raw
record.  Everything else is a pure function of the records:

  build_trace(records, start, end)  Chrome trace-event JSON (Perfetto,
                                    chrome://tracing, ui.perfetto.dev)
  tail_lines(records, n)            the last events, one line each
  handshake_events(records)         the kthread_create handshake, in order
  record_boot(kernel)               a traced boot without gdb, to oops_test

Time.  ts is the machine's virtual time, never the wall clock: the
instruction count at 10,000,000 instructions per virtual second (the rate
machine/pit.py gives the PIT, so the 100 Hz tick is 10 ms in the trace too):
ts in microseconds = icount / 10.  The same boot gives the same trace, byte
for byte.

Trace-event schema (docs/ARCHITECTURE.md, "Scheduling trace"):
  one process (pid TRACE_PID, not a kernel pid) and one thread track per
  kernel task: tid = pid + 1.  Not the gdb thread id: gdb's ids are per
  connection, in discovery order (kernelaware/threads.py), while a trace file
  outlives connections and is recorded with no gdb or tasks off; the pid is
  the stable name, + 1 keeps tid 0 out (viewers treat it as special).
  Metadata "M": process_name, thread_name "<comm> (pid N)", thread_sort_index.
  "X" slices (cat "sched"): one per running interval, named by the comm;
  per track they never overlap.  args: pid, comm, icount (start),
  end_state (R/S/D/Z/X letter the task left the CPU in, "running" at the
  end of the trace).
  With more than one CPU (--cpus N) each record carries the CPU it ran on
  and the trace gains: "cpu" in every slice's args; a second process (pid
  CPU_PID, "CPUs") with a track per CPU (tid CPU_TID + n, thread_name
  "CPU n"), whose slices are the tasks that CPU ran, as Perfetto shows the
  CPUs of a Linux trace; and a task track of its own for each CPU's idle
  task (all are pid 0: CPU n > 0's is tid IDLE_TID + n, named
  "swapper (pid 0, CPU n)"); "cpu_up" instants where an AP comes online.
  Tids stay unique across the two processes (some viewers key threads by
  tid alone).  One CPU: none of this, the file it always was.
  "i" instants (cat "sched" or "kthread", s "t"): wake_up_process (target
  pid/comm/state, caller), complete (completion address, done count, first
  waiter, request, caller), kthread_create (threadfn, requested name,
  request, caller), create_kthread (request, requester), kthread (request).
  Flows (cat "kthread", name "kthread_create", id = request number, 1 for
  the first kthread_create of the trace): "s" at kthread_create in the
  requester, "t" at create_kthread in kthreadd, "f" at kthread() in the new
  thread; each bound to the enclosing running slice ("f" with "bp": "e").

Requests are matched without guessing an order: the request lives on the
requester's stack, so the `create` pointer that kthreadd receives lies just
below the requester's stack pointer at its kthread_create entry; kthread()
receives the same pointer.

Replays and restarts.  Probes fire again when machine/history.py replays
the past (reverse execution): a record is kept only if its icount is above
the high-water mark of what was recorded.  The machine's "rewind" event
(going forward from a past point) drops the records from that point on, so
they are recorded again from the new run; "reset" starts a new trace.
"""

from __future__ import annotations

import bisect
import json
import os
import tempfile
import struct
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from machine.stop import Reason

INSNS_PER_US = 10          # machine/pit.py INSNS_PER_SECOND / 1e6
TRACE_PID = 32768          # above Linux's default pid_max - 1: never a kernel pid
PROCESS_NAME = "kernel tasks (kthread machine)"
CPU_PROCESS_NAME = "CPUs (kthread machine)"
CPU_PID = TRACE_PID + 1    # the process that holds a track per CPU (--cpus > 1)
CPU_TID = TRACE_PID + 1    # CPU n's track: above every task's pid + 1
IDLE_TID = CPU_TID + 64    # CPU n's idle task (pid 0 on every CPU), n > 0
PROBES = ("__switch_to", "wake_up_process", "complete", "kthread_create",
          "create_kthread", "kthread", "start_secondary")
REQUEST_SLACK = 0x10000    # the request is at most this far below the requester's esp
TAIL_DEFAULT = 20
MAX_RECORDS = 1_000_000    # beyond: the oldest tenth is dropped (a machine left running)

_REG_ARGS = ("eax", "edx", "ecx")


class TraceError(Exception):
    """The trace cannot be started or written; the message is for the user."""


# ----------------------------------------------------------------- layout

@dataclass(frozen=True)
class FuncInfo:
    addr: int
    nparams: int
    variadic: bool
    regparm: int


@dataclass(frozen=True)
class TraceLayout:
    """What the probes need beyond oskernel.KernelLayout, from the same ELF."""

    funcs: Dict[str, FuncInfo]                 # probed functions that exist
    missing: Tuple[str, ...]                   # probed functions that do not
    completion_done: int                       # offsetof(struct completion, done)
    completion_wait: int                       # offsetof(struct completion, wait)
    wqh_list: int                              # offsetof(wait_queue_head_t, task_list)
    wq_task: int                               # offsetof(wait_queue_t, task)
    wq_list: int                               # offsetof(wait_queue_t, task_list)
    create_done: Optional[int]                 # offsetof(kthread_create_info, done)
    symbols: Tuple[Tuple[int, int, str], ...]  # sorted (addr, size, name) of functions

    def func_name(self, addr: int) -> Optional[str]:
        """The function containing addr, or None."""
        i = bisect.bisect_right(self.symbols, (addr, 1 << 40, "")) - 1
        if i >= 0:
            a, size, name = self.symbols[i]
            if a <= addr < a + max(size, 1):
                return name
        return None


_TLAYOUTS: Dict[tuple, TraceLayout] = {}


def trace_layout(path) -> TraceLayout:
    from .dwarf import per_elf
    return per_elf(_TLAYOUTS, path, _read_trace_layout)


def _regparm(cu) -> int:
    prod = cu.get_top_DIE().attributes.get("DW_AT_producer")
    text = prod.value.decode("latin-1", "replace") if prod is not None else ""
    for word in text.split():
        if word.startswith("-mregparm="):
            try:
                return int(word.split("=", 1)[1])
            except ValueError:
                return 0
    return 0


def _read_trace_layout(path) -> TraceLayout:
    from elftools.elf.elffile import ELFFile
    from .dwarf import LayoutError, find_struct, members, name as die_name

    with open(path, "rb") as f:
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        if symtab is None or not elf.has_dwarf_info():
            raise LayoutError(f"{path}: no symbol table or no DWARF")
        funcs_sym = sorted((s["st_value"], s["st_size"], s.name) for s in symtab.iter_symbols()
                           if s["st_info"]["type"] == "STT_FUNC" and s.name)
        addrs = {}
        for a, _size, name in funcs_sym:
            if name in PROBES:
                addrs.setdefault(name, a)
        dwarf = elf.get_dwarf_info()
        # Only the CUs that define the probed functions (found through
        # .debug_aranges): parsing every DIE of the kernel takes ~10x longer.
        cus = []
        aranges = dwarf.get_aranges()
        if aranges is not None:
            offs = []
            for a in addrs.values():
                try:
                    off = aranges.cu_offset_at_addr(a)
                except Exception:     # pyelftools raises when no range holds it
                    off = None
                if off is not None and off not in offs:
                    offs.append(off)
            cus = [dwarf.get_CU_at(off) for off in sorted(offs)]
        protos, structs = {}, {}

        def scan(cu_list):
            for cu in cu_list:
                rp = _regparm(cu)
                for die in cu.get_top_DIE().iter_children():
                    name = die_name(die)
                    if (die.tag == "DW_TAG_structure_type" and name not in structs
                            and "DW_AT_declaration" not in die.attributes):
                        structs[name] = die
                    if (die.tag != "DW_TAG_subprogram" or name not in addrs or name in protos
                            or "DW_AT_declaration" in die.attributes):
                        continue
                    low = die.attributes.get("DW_AT_low_pc")
                    if low is not None and low.value != addrs[name]:
                        continue
                    kids = [c.tag for c in die.iter_children()]
                    protos[name] = (kids.count("DW_TAG_formal_parameter"),
                                    "DW_TAG_unspecified_parameters" in kids, rp)

        scan(cus)
        if set(addrs) - set(protos):        # no aranges, or a function outside them
            scan(dwarf.iter_CUs())
        funcs = {}
        for name, a in addrs.items():
            n, var, rp = protos.get(name, (3, False, 0))
            funcs[name] = FuncInfo(a, n, var, rp)

        def member(struct_name, field, prefer=""):
            die = structs.get(struct_name) or find_struct(dwarf, struct_name, prefer=prefer)
            if die is None:
                return None
            m = members(die).get(field)
            return None if m is None else m[0]

        comp_done = member("completion", "done", "completion")
        comp = member("completion", "wait", "completion")
        wqh = member("__wait_queue_head", "task_list", "wait")
        wqt = member("__wait_queue", "task", "wait")
        wql = member("__wait_queue", "task_list", "wait")
        done = member("kthread_create_info", "done", "kthread")
        if None in (comp_done, comp, wqh, wqt, wql):
            raise LayoutError(f"{path}: no struct completion / wait queue layout in DWARF")
        return TraceLayout(funcs=funcs, missing=tuple(p for p in PROBES if p not in funcs),
                           completion_done=comp_done, completion_wait=comp, wqh_list=wqh, wq_task=wqt, wq_list=wql,
                           create_done=done, symbols=tuple(funcs_sym))


# --------------------------------------------------------------- recording

def _state_letter(state: int, exit_state: int) -> str:
    from .oskernel import taskstate
    return taskstate.decode(state, exit_state)[0]


class SchedTracer:
    """Records scheduling events of the machine's kernel through probes.

    `machine` is a machine.Machine or a machine.history.TimeMachine around
    one; `kernel_path` its kernel ELF (default: machine.kernel_path)."""

    def __init__(self, machine, kernel_path=None):
        from .oskernel import KernelLayout, TaskWalker

        self.m = machine
        # a Machine's own; a stand-in machine may have none
        path = kernel_path or getattr(machine, "kernel_path", None)
        if path is None:
            raise TraceError("no kernel ELF to learn the task layout from")
        try:
            self.klayout = KernelLayout.from_elf(path)
            self.layout = trace_layout(path)
        except Exception as e:
            raise TraceError(f"cannot trace this kernel: {e}") from None
        if "__switch_to" in self.layout.missing:
            raise TraceError("the kernel has no __switch_to: cannot see context switches")
        self.walker = TaskWalker(self.klayout, self._read)
        self.records: List[dict] = []
        self.recording = False
        self.path: Optional[str] = None
        # Where `monitor trace on` may write, chosen on the stub's command
        # line (a client never names a host file): the --trace FILE, else a
        # name made here in the --trace-dir folder, else nowhere (memory).
        self.home: Optional[str] = None
        self.folder: Optional[str] = None
        self._made = 0
        self.start_ic = 0
        self.hw = -1              # icount of the last instruction recorded
        self.dropped = 0          # probe hits skipped (replays: already recorded)
        self.unreadable = 0       # probe hits whose task could not be read
        self.discarded = 0        # oldest records dropped beyond MAX_RECORDS
        self._probes: List[Tuple[int, Callable]] = []
        self._handlers = {
            "__switch_to": self._on_switch, "wake_up_process": self._on_wake,
            "complete": self._on_complete, "kthread_create": self._on_kcreate,
            "create_kthread": self._on_create_kthread, "kthread": self._on_kthread,
            "start_secondary": self._on_cpu_up,
        }
        self.ncpus = machine.ncpus
        # cpu -> (pid, comm) that CPU ran when the trace started (more than
        # one CPU only: an AP may be idle the whole trace, with no record)
        self.initial: Dict[int, Tuple[int, str]] = {}

    # -- control
    def start(self, path: Optional[str] = None) -> Optional[str]:
        """Start a new trace at the current instruction.  With `path`, the
        trace is written there now (empty, which checks that it can be) and
        on stop()/flush().  A trace being recorded is stopped first (and
        written: its path is returned), unless `path` is unusable (then
        TraceError and nothing changes)."""
        if path is not None:
            path = os.path.abspath(os.path.expanduser(path))
            self._check_writable(path)
        old = self.stop() if self.recording else None
        self.path = path
        self.records = []
        self.start_ic = self.m.icount
        self.hw = self.start_ic - 1
        self.dropped = self.unreadable = self.discarded = 0
        self.initial = self._running_now()
        self._attach()
        self.recording = True
        if path is not None:
            try:
                self.write(path)
            except TraceError:          # not left on with a file it cannot write
                self._detach()
                self.recording = False
                self.path = None
                raise
        return old

    def start_chosen(self) -> Optional[str]:
        """`monitor trace on`: start into the file chosen at start-up (see
        `home`, `folder`); returns the previous trace's file, if written."""
        if self.home is not None:
            return self.start(self.home)
        if self.folder is None:
            return self.start(None)
        return self.start(self._new_name())

    def _new_name(self) -> str:
        """A file name of our own in `folder`, reserved with O_EXCL (an
        existing file or a planted link is never reused)."""
        for _ in range(1000):
            self._made += 1
            path = os.path.join(self.folder, f"trace-{os.getpid()}-{self._made}.json")
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                                 0o644))
                return path
            except FileExistsError:
                continue
            except OSError as e:
                raise TraceError(f"cannot write in {self.folder}: {e.strerror or e}") from None
        raise TraceError(f"cannot make a new file name in {self.folder}")

    def stop(self) -> Optional[str]:
        """Stop recording; writes the file if there is one (returns its path)."""
        if not self.recording:
            return None
        self._detach()
        self.recording = False
        self._end = self._end_now()
        if self.path is not None:
            self.write(self.path)
        return self.path

    def flush(self) -> Optional[str]:
        """Write the trace so far to its file (if any); keeps recording."""
        if self.path is None or not (self.recording or self.records):
            return None
        self.write(self.path)
        return self.path

    def close(self) -> Optional[str]:
        if self.recording:
            return self.stop()
        return None

    def _attach(self):
        for name, fi in self.layout.funcs.items():
            fn = self._handlers[name]
            self.m.add_probe(fi.addr, fn)
            self._probes.append((fi.addr, fn))
        self.m.add_listener(self._on_timeline)

    def _detach(self):
        for addr, fn in self._probes:
            self.m.remove_probe(addr, fn)
        self._probes = []
        self.m.remove_listener(self._on_timeline)

    def _on_timeline(self, event: str, icount: int) -> None:
        if event == "reset":          # a restart: a new trace from the first instruction
            self.records = []
            self.start_ic = 0
            self.hw = -1
            self.initial = {}         # the APs wait for STARTUP again
        elif event == "rewind":       # the run goes on from icount: it is recorded again
            k = bisect.bisect_left([r["ic"] for r in self.records], icount)
            del self.records[k:]
            self.hw = min(self.hw, icount - 1)
            if icount < self.start_ic:    # the trace now starts there (the machine is there)
                self.start_ic = icount
                self.initial = self._running_now()

    def _running_now(self) -> Dict[int, Tuple[int, str]]:
        """Each running CPU's current task (more than one CPU; else {})."""
        out = {}
        for k in range(self.ncpus if self.ncpus > 1 else 0):
            if self.m.cpu_state(k) == "wait-for-SIPI":
                continue
            t = self._task(self.walker.current_task(k))
            if t is not None:
                out[k] = (t.pid, t.comm)
        return out

    @staticmethod
    def _check_writable(path: str) -> None:
        d = os.path.dirname(path) or "."
        if not os.path.isdir(d):
            raise TraceError(f"cannot write {path}: no directory {d}")
        if os.path.isdir(path):
            raise TraceError(f"cannot write {path}: it is a directory")
        if not os.access(d, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
            raise TraceError(f"cannot write {path}: permission denied")

    # -- output
    def _end_now(self) -> int:
        # a TimeMachine's frontier (the furthest point run); a plain Machine has none
        end = max(self.m.icount, getattr(self.m, "frontier", 0) or 0)
        if self.records:
            end = max(end, self.records[-1]["ic"] + 1)
        return end

    def end_icount(self) -> int:
        # _end: set when recording stopped; never recorded: now
        return self._end_now() if self.recording else getattr(self, "_end", self._end_now())

    def trace(self) -> dict:
        return build_trace(self.records, self.start_ic, self.end_icount(),
                           done_offset=self.layout.create_done, cpus=self.ncpus,
                           initial=self.initial)

    def write(self, path: Optional[str] = None) -> str:
        path = path or self.path
        if path is None:
            raise TraceError("no file: start the stub with --trace FILE or --trace-dir DIR")
        text = dumps(self.trace())
        tmp = None
        try:
            # A fresh file (O_EXCL, so never a link someone planted) in the
            # target's folder, then renamed over it (rename replaces a link
            # at `path` itself, never its target).
            fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".",
                                       suffix=".tmp", dir=os.path.dirname(path) or ".")
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except OSError as e:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
            raise TraceError(f"cannot write {path}: {e.strerror or e}") from None
        return path

    def tail(self, n: int = TAIL_DEFAULT) -> str:
        lines = tail_lines(self.records, n, done_offset=self.layout.create_done)
        return "\n".join(lines) + "\n" if lines else "(no trace events)\n"

    def status(self) -> str:
        state = "on" if self.recording else "off"
        where = f", file {self.path}" if self.path else ", in memory only"
        text = (f"trace {state}{where}: {len(self.records)} events, icount "
                f"{self.start_ic}..{self.end_icount()}\n")
        if self.layout.missing:
            text += f"not probed (the kernel has no such function): {', '.join(self.layout.missing)}\n"
        if self.discarded:
            text += f"the oldest {self.discarded} events were dropped (more than {MAX_RECORDS})\n"
        if self.unreadable:
            text += f"{self.unreadable} probe hits skipped: the current task was not readable\n"
        return text

    def handshake_events(self) -> List[dict]:
        return handshake_events(self.records, done_offset=self.layout.create_done)

    # -- probes (run inside the machine's clock hook: read only)
    def _read(self, addr: int, size: int) -> bytes:
        return self.m.read_memory(addr & 0xFFFFFFFF, size)

    def _u32(self, addr: int) -> Optional[int]:
        return self.walker.read_u32(addr)

    def _task(self, addr: Optional[int]):
        if not addr:
            return None
        return self.walker.read_task(addr)

    def _arg(self, name: str, i: int) -> Optional[int]:
        fi = self.layout.funcs[name]
        nreg = 0 if fi.variadic else min(fi.regparm, fi.nparams, 3)
        if i < nreg:
            return self.m.read_register(_REG_ARGS[i])
        esp = self.m.read_register("esp")
        return self._u32(esp + 4 + 4 * (i - nreg))

    def _caller(self) -> Optional[str]:
        ret = self._u32(self.m.read_register("esp"))
        return None if ret is None else self.layout.func_name(ret)

    def _begin(self, icount: int):
        """The current task, or None when this hit is not to be recorded."""
        if icount <= self.hw:
            self.dropped += 1
            return None
        # the CPU the probe fired on is the running one (machine.cpu)
        cur = self._task(self.walker.current_task(self.m.cpu))
        if cur is None:
            self.unreadable += 1
            return None
        return cur

    def _add(self, icount: int, kind: str, cur, **kw) -> None:
        rec = {"ic": icount, "kind": kind, "pid": cur.pid, "comm": cur.comm}
        if self.ncpus > 1:
            rec["cpu"] = self.m.cpu
        rec.update(kw)
        self.records.append(rec)
        self.hw = icount
        if len(self.records) > MAX_RECORDS:
            cut = MAX_RECORDS // 10
            self.discarded += cut
            del self.records[:cut]
            self.start_ic = self.records[0]["ic"]     # the trace now starts there
            self.initial = {}                         # unknown there: the records tell

    def _on_switch(self, _vaddr, icount):
        cur = self._begin(icount)
        if cur is None:
            return
        prev = self._task(self._arg("__switch_to", 0)) or cur
        nxt = self._task(self._arg("__switch_to", 1))
        if nxt is None:
            self.unreadable += 1
            return
        self._add(icount, "switch", prev, prev_state=_state_letter(prev.state, prev.exit_state),
                  next_pid=nxt.pid, next_comm=nxt.comm)

    def _on_wake(self, _vaddr, icount):
        cur = self._begin(icount)
        if cur is None:
            return
        p = self._task(self._arg("wake_up_process", 0))
        self._add(icount, "wake_up_process", cur,
                  target_pid=None if p is None else p.pid,
                  target_comm=None if p is None else p.comm,
                  target_state=None if p is None else _state_letter(p.state, p.exit_state),
                  caller=self._caller())

    def _on_complete(self, _vaddr, icount):
        cur = self._begin(icount)
        if cur is None:
            return
        L = self.layout
        x = self._arg("complete", 0) or 0
        done = self._u32(x + L.completion_done)
        head = x + L.completion_wait + L.wqh_list
        node = self._u32(head + self.klayout.list_next)     # the first waiter, if any
        waiter = None
        if node is not None and node != head:
            waiter = self._task(self._u32(node - L.wq_list + L.wq_task))
        self._add(icount, "complete", cur, completion=x, done=done,
                  waiter_pid=None if waiter is None else waiter.pid,
                  waiter_comm=None if waiter is None else waiter.comm,
                  caller=self._caller())

    def _on_kcreate(self, _vaddr, icount):
        cur = self._begin(icount)
        if cur is None:
            return
        fn = self._arg("kthread_create", 0)
        name = self._format(self._arg("kthread_create", 2),
                            lambda k: self._arg("kthread_create", 3 + k))
        self._add(icount, "kthread_create", cur,
                  threadfn=(self.layout.func_name(fn) or f"0x{fn:08x}") if fn is not None else None,
                  name=name, esp=self.m.read_register("esp"), caller=self._caller())

    def _on_create_kthread(self, _vaddr, icount):
        cur = self._begin(icount)
        if cur is None:
            return
        self._add(icount, "create_kthread", cur, create=self._arg("create_kthread", 0),
                  caller=self._caller())

    def _on_kthread(self, _vaddr, icount):
        cur = self._begin(icount)
        if cur is None:
            return
        self._add(icount, "kthread", cur, create=self._arg("kthread", 0))

    def _on_cpu_up(self, _vaddr, icount):
        cur = self._begin(icount)       # the AP's idle task (cpu_up made it current)
        if cur is None:
            return
        self._add(icount, "cpu_up", cur)

    def _cstring(self, addr: Optional[int], limit: int = 64) -> Optional[str]:
        if not addr:
            return None
        out = b""
        while len(out) < limit:
            chunk = self.walker.read(addr + len(out), 16)
            if chunk is None:
                # near a page end: byte by byte
                b = self.walker.read(addr + len(out), 1)
                if b is None:
                    return None
                chunk = b
            if b"\0" in chunk:
                return (out + chunk.split(b"\0", 1)[0]).decode("latin-1")
            out += chunk
        return out[:limit].decode("latin-1")

    def _format(self, fmt_addr, arg) -> Optional[str]:
        """The thread name kthread_create will make of namefmt and its
        arguments (the common conversions: %s %d %i %u %x %c %%)."""
        fmt = self._cstring(fmt_addr)
        if fmt is None:
            return None
        return format_name(fmt, lambda k: arg(k), self._cstring)


def format_name(fmt: str, arg: Callable[[int], Optional[int]],
                string: Callable[[int], Optional[str]]) -> str:
    out, k, i = [], 0, 0
    while i < len(fmt):
        c = fmt[i]
        if c != "%" or i + 1 >= len(fmt):
            out.append(c)
            i += 1
            continue
        j = i + 1
        while j < len(fmt) and fmt[j] in "-+ #0123456789.l":
            j += 1
        conv = fmt[j] if j < len(fmt) else ""
        if conv == "%":
            out.append("%")
        elif conv in "sdiuxXc":
            v = arg(k)
            k += 1
            if v is None:
                out.append("?")
            elif conv == "s":
                out.append(string(v) or "?")
            elif conv in "di":
                out.append(str(struct.unpack("<i", struct.pack("<I", v & 0xFFFFFFFF))[0]))
            elif conv == "u":
                out.append(str(v))
            elif conv in "xX":
                out.append(format(v, conv))
            else:
                out.append(chr(v & 0xFF))
        else:
            return fmt                      # not understood: the format as is
        i = j + 1
    return "".join(out)


# ------------------------------------------------------------ pure builder

def ts_of(icount: int):
    """Trace timestamp (microseconds of virtual time) of an instruction count."""
    q, r = divmod(icount, INSNS_PER_US)
    return q if r == 0 else icount / INSNS_PER_US


def tid_of(pid: int) -> int:
    return pid + 1


def _who(pid, comm) -> str:
    return f"{comm}[{pid}]" if pid is not None else "?"


def link_requests(records: List[dict], done_offset: Optional[int] = None) -> List[Optional[int]]:
    """For each record, the kthread_create request (1, 2, ...) it belongs to,
    or None.  A request is numbered at kthread_create; the requester's
    wake_up_process from kthread_create belongs to it; create_kthread is
    matched by its `create` pointer lying just below the requester's stack
    pointer at kthread_create (the request is on that stack); kthread() by
    the same pointer; complete() by the request's `done` completion."""
    out: List[Optional[int]] = []
    pending: List[Tuple[int, int]] = []      # (request, requester esp)
    by_ptr: Dict[int, int] = {}               # create pointer -> latest request
    asked: Dict[int, int] = {}                # requester pid -> its latest request
    n = 0
    for r in records:
        req = None
        kind = r["kind"]
        if kind == "kthread_create":
            n += 1
            req = n
            pending.append((n, r.get("esp") or 0))
            asked[r["pid"]] = n
        elif kind == "wake_up_process" and r.get("caller") == "kthread_create":
            req = asked.get(r["pid"])         # the requester waking kthreadd
        elif kind == "create_kthread" and r.get("create") is not None:
            c = r["create"]
            near = [(esp - c, i) for i, (_, esp) in enumerate(pending)
                    if 0 < esp - c <= REQUEST_SLACK]
            if near:
                i = min(near)[1]
            elif pending:
                i = 0                         # not on a known stack: FIFO, as kthreadd serves
            else:
                i = None
            if i is not None:
                req = pending.pop(i)[0]
                by_ptr[c] = req
        elif kind == "kthread" and r.get("create") is not None:
            req = by_ptr.get(r["create"])
        elif kind == "complete" and done_offset is not None and r.get("completion"):
            req = by_ptr.get(r["completion"] - done_offset)
        out.append(req)
    return out


def task_tid(pid: int, cpu: int = 0) -> int:
    """The track of the task with `pid` that ran on `cpu`: pid + 1, but each
    CPU's idle task (pid 0 on every CPU) a track of its own."""
    return IDLE_TID + cpu if pid == 0 and cpu else tid_of(pid)


def build_trace(records: List[dict], start: int, end: int,
                done_offset: Optional[int] = None, cpus: int = 1,
                initial: Optional[Dict[int, Tuple[int, str]]] = None) -> dict:
    """Chrome trace-event JSON (as a dict) from the raw records, for the
    instructions [start, end), recorded on `cpus` CPUs; `initial`: cpu ->
    (pid, comm) each CPU ran at `start` (else the CPU's first record tells,
    from `start` or from its cpu_up).  Pure and deterministic."""
    smp = cpus > 1
    meta, events = [], []
    names: Dict[int, Tuple[str, int]] = {}              # tid -> (thread name, sort index)
    running: Dict[int, Tuple[int, str, int]] = {       # cpu -> (pid, comm, since)
        k: (pid, comm, start) for k, (pid, comm) in (initial or {}).items()}

    def name(pid, comm, cpu, keep=False):
        """The task's track; its name is the comm it last ran or recorded
        under (keep: a switch's next_comm names a track only if none yet)."""
        tid = task_tid(pid, cpu)
        if not (keep and tid in names):
            label = f"{comm} (pid {pid}, CPU {cpu})" if smp and pid == 0 else f"{comm} (pid {pid})"
            names[tid] = (label, pid)
        return tid

    def slice_(pid, comm, cpu, since, until, state):
        if until <= since:
            return
        args = {"pid": pid, "comm": comm, "icount": since, "end_state": state}
        if smp:
            args["cpu"] = cpu
        ev = {"name": comm, "cat": "sched", "ph": "X", "ts": ts_of(since),
              "dur": ts_of(until - since), "pid": TRACE_PID, "tid": name(pid, comm, cpu),
              "args": args}
        events.append(ev)
        if smp:         # the same interval on the CPU's own track
            events.append(dict(ev, pid=CPU_PID, tid=CPU_TID + cpu))

    reqs = link_requests(records, done_offset)
    for r, req in zip(records, reqs):
        ic, kind, pid, comm = r["ic"], r["kind"], r["pid"], r["comm"]
        cpu = r.get("cpu", 0)
        if kind == "cpu_up" or cpu not in running:
            running[cpu] = (pid, comm, ic if kind == "cpu_up" else start)
        name(pid, comm, cpu)
        if kind == "switch":
            rp, _, since = running[cpu]
            if rp == pid:
                slice_(pid, comm, cpu, since, ic, r.get("prev_state") or "?")
            running[cpu] = (r["next_pid"], r["next_comm"], ic)
            name(r["next_pid"], r["next_comm"], cpu, keep=True)
            continue
        base = {"ts": ts_of(ic), "pid": TRACE_PID, "tid": task_tid(pid, cpu)}
        args = {"icount": ic}
        cat = "sched"
        if kind == "wake_up_process":
            args.update(target=_who(r.get("target_pid"), r.get("target_comm")),
                        target_pid=r.get("target_pid"), target_state=r.get("target_state"),
                        caller=r.get("caller"))
            if req is not None:
                args["request"] = req
        elif kind == "complete":
            args.update(completion=f"0x{r.get('completion') or 0:08x}", done=r.get("done"),
                        waiter=(_who(r["waiter_pid"], r["waiter_comm"])
                                if r.get("waiter_pid") is not None else None),
                        caller=r.get("caller"))
            if req is not None:
                args["request"] = req
        elif kind == "kthread_create":
            cat = "kthread"
            args.update(threadfn=r.get("threadfn"), name=r.get("name"), request=req,
                        caller=r.get("caller"))
        elif kind in ("create_kthread", "kthread"):
            cat = "kthread"
            args["request"] = req
        elif kind == "cpu_up":
            args["cpu"] = cpu
        events.append(dict(name=kind, cat=cat, ph="i", s="t", **base, args=args))
        flow = {"kthread_create": "s", "create_kthread": "t", "kthread": "f"}.get(kind)
        if flow and req is not None:
            # "s" and "t" bind to the enclosing slice; "f" only with bp "e"
            # (else to the next slice that begins on its track)
            ev = dict(name="kthread_create", cat="kthread", ph=flow, id=req, **base)
            if flow == "f":
                ev["bp"] = "e"
            events.append(ev)
    for cpu in sorted(running):
        pid, comm, since = running[cpu]
        slice_(pid, comm, cpu, since, end, "running")
    meta.append({"name": "process_name", "ph": "M", "pid": TRACE_PID, "tid": tid_of(0),
                 "args": {"name": PROCESS_NAME}})
    for tid in sorted(names):
        label, sort = names[tid]
        meta.append({"name": "thread_name", "ph": "M", "pid": TRACE_PID, "tid": tid,
                     "args": {"name": label}})
        meta.append({"name": "thread_sort_index", "ph": "M", "pid": TRACE_PID,
                     "tid": tid, "args": {"sort_index": sort}})
    if smp:
        meta.append({"name": "process_name", "ph": "M", "pid": CPU_PID, "tid": CPU_TID,
                     "args": {"name": CPU_PROCESS_NAME}})
        for k in range(cpus):
            # sorted before every task where one list holds both (labs/timeline.py)
            meta.append({"name": "thread_name", "ph": "M", "pid": CPU_PID, "tid": CPU_TID + k,
                         "args": {"name": f"CPU {k}"}})
            meta.append({"name": "thread_sort_index", "ph": "M", "pid": CPU_PID,
                         "tid": CPU_TID + k, "args": {"sort_index": k - cpus}})
    # stable sort by time: slices (emitted when they end) go before what they enclose
    order = {"X": 0, "i": 1, "s": 2, "t": 2, "f": 2}
    events.sort(key=lambda e: (e["ts"], order[e["ph"]]))
    other = {"clock": "virtual: icount / %d = microseconds" % INSNS_PER_US,
             "start_icount": start, "end_icount": end, "tid": "kernel pid + 1"}
    if smp:
        other.update(cpus=cpus, cpu_tid=f"CPU n: {CPU_TID} + n (process {CPU_PID}); "
                                         f"CPU n's idle task: {IDLE_TID} + n")
    return {"traceEvents": meta + events, "displayTimeUnit": "ns", "otherData": other}


def dumps(trace: dict) -> str:
    """One event per line (diffable), deterministic."""
    ev = trace["traceEvents"]
    rest = {k: v for k, v in trace.items() if k != "traceEvents"}
    body = ",\n".join(json.dumps(e, separators=(",", ":")) for e in ev)
    tail = json.dumps(rest, separators=(",", ":"))[1:-1]
    return '{"traceEvents":[\n' + body + "\n]" + ("," + tail if tail else "") + "}\n"


def describe(r: dict, req: Optional[int] = None) -> str:
    """One record as a line of text (monitor trace tail)."""
    kind = r["kind"]
    where = f"CPU {r['cpu']}  " if "cpu" in r else ""      # more than one CPU
    head = (f"{r['ic']:>10}  {r['ic'] / INSNS_PER_US / 1000:>9.3f} ms  {where}"
            f"{_who(r['pid'], r['comm'])}  ")
    if kind == "switch":
        tail = f"switch -> {_who(r['next_pid'], r['next_comm'])} (leaves in state {r.get('prev_state')})"
    elif kind == "wake_up_process":
        tail = (f"wake_up_process {_who(r.get('target_pid'), r.get('target_comm'))} "
                f"(was {r.get('target_state')}) from {r.get('caller')}")
    elif kind == "complete":
        w = (_who(r["waiter_pid"], r["waiter_comm"]) if r.get("waiter_pid") is not None
             else "nobody waiting")
        tail = f"complete 0x{r.get('completion') or 0:08x} -> {w} from {r.get('caller')}"
    elif kind == "kthread_create":
        tail = f"kthread_create {r.get('threadfn')} name {r.get('name')!s}"
    elif kind == "create_kthread":
        tail = f"create_kthread request 0x{r.get('create') or 0:08x}"
    elif kind == "kthread":
        tail = "kthread() starts"
    elif kind == "cpu_up":
        tail = f"CPU {r.get('cpu')} comes online"
    else:
        tail = kind
    if req is not None:
        tail += f" [request {req}]"
    return head + tail


def tail_lines(records: List[dict], n: int = TAIL_DEFAULT,
               done_offset: Optional[int] = None) -> List[str]:
    reqs = link_requests(records, done_offset)
    k = max(0, len(records) - max(0, n))
    return [describe(r, q) for r, q in zip(records[k:], reqs[k:])]


HANDSHAKE_CALLERS = ("kthread_create", "kthread_stop")


def handshake_events(records: List[dict], done_offset: Optional[int] = None) -> List[dict]:
    """The kthread_create handshake, in order, for diagrams: every
    kthread_create, create_kthread and kthread() start; the wake_up_process
    calls made by kthread_create and kthread_stop; the complete() calls on a
    request's completion or made by kthread/create_kthread/do_exit.  Each is
    {"icount", "kind", "pid", "comm", "request"} plus: threadfn/name
    (kthread_create), target_pid/target_comm/caller (wake_up_process),
    waiter_pid/waiter_comm/caller (complete)."""
    out = []
    for r, req in zip(records, link_requests(records, done_offset)):
        kind = r["kind"]
        e = {"icount": r["ic"], "kind": kind, "pid": r["pid"], "comm": r["comm"], "request": req}
        if kind == "kthread_create":
            e.update(threadfn=r.get("threadfn"), name=r.get("name"))
        elif kind in ("create_kthread", "kthread"):
            pass
        elif kind == "wake_up_process" and r.get("caller") in HANDSHAKE_CALLERS:
            e.update(target_pid=r.get("target_pid"), target_comm=r.get("target_comm"),
                     caller=r.get("caller"))
        elif kind == "complete" and (req is not None or r.get("caller") in
                                     ("kthread", "create_kthread", "do_exit", "kthreadd")):
            e.update(waiter_pid=r.get("waiter_pid"), waiter_comm=r.get("waiter_comm"),
                     caller=r.get("caller"))
        else:
            continue
        out.append(e)
    return out


def record_boot(kernel_path, cmdline: str = "", stop_at: str = "oops_test",
                max_insns: int = 100_000_000, cpus: int = 1) -> SchedTracer:
    """Boot `kernel_path` on a fresh machine (no gdb) with the trace on from
    the first instruction, up to the first instruction of function `stop_at`
    (default oops_test, which init calls right after "init: boot complete"),
    and return the stopped tracer: .records, .trace(), .handshake_events().
    `cpus`: the machine's --cpus (the stop is CPU 0's or any CPU's first hit).
    Raises TraceError if `stop_at` is not reached within max_insns."""
    from machine import Machine

    m = Machine(str(kernel_path), cmdline=cmdline, cpus=cpus)
    layout = trace_layout(kernel_path)
    target = next((a for a, _size, name in layout.symbols if name == stop_at), None)
    if target is None:
        raise TraceError(f"the kernel has no function {stop_at}")
    m.add_breakpoint(target)
    tr = SchedTracer(m, kernel_path)
    tr.start()
    while m.icount < max_insns:
        stop = m.cont(max_insns - m.icount)
        if stop.reason == Reason.BREAKPOINT:
            break
        if stop.reason != Reason.LIMIT:
            raise TraceError(f"the boot stopped before {stop_at}: {stop.reason} at "
                             f"0x{stop.pc:08x} {stop.detail}".rstrip())
    else:
        raise TraceError(f"{stop_at} not reached within {max_insns} instructions")
    tr.stop()
    return tr


class TraceSlot:
    """The stub's scheduling tracer, made on first use (--trace, `monitor
    trace on`) from the machine the composer (cli.py) hands over; None: a
    target without machine probes (the fake target)."""

    def __init__(self, machine=None, folder: Optional[str] = None):
        self.machine = machine
        self.folder = folder          # --trace-dir
        self.tracer: Optional[SchedTracer] = None

    def get(self) -> SchedTracer:
        if self.tracer is None:
            if self.machine is None:
                raise TraceError("this target has no machine probes to trace with")
            self.tracer = SchedTracer(self.machine)
            self.tracer.folder = self.folder
        return self.tracer

    def flush(self, say, close: bool = False) -> None:
        """gdb left or killed the program (or, close=True, the stub exits: stop
        recording too): write the trace so far, if one is recorded to a file.
        Errors are reported with `say`, never raised (a full disk must not
        take the stub down)."""
        if self.tracer is None:
            return
        try:
            self.tracer.close() if close else self.tracer.flush()
        except Exception as e:
            say(f"trace not saved: {e}")
