"""OS awareness: the kernel's task list, read through target memory.

The stub learns the layout of ``struct task_struct`` (and of ``list_head``
and ``thread_struct``) from the DWARF of the kernel ELF, with pyelftools,
and the addresses of the globals a debugger needs (``init_task``,
``current_task``, ``ret_from_fork``, ``log_buf``/``log_end``, ...) from its
symbol table.  Nothing here hard-codes an offset: rebuild the kernel with a
reordered task_struct and the stub follows.  `KernelLayout.from_elf` caches
one layout per ELF file (path, size, mtime).

`TaskWalker` walks ``init_task.tasks`` (a circular ``list_head`` list, every
task linked through its ``tasks`` member) with a `read_memory(addr, size)`
callable, so it runs the same over the machine and over a fake memory in the
unit tests.  Any unreadable pointer, a list that does not come back to its
head, or an implausible length makes the walk return None: the caller then
shows the CPU as a single thread (at the reset vector paging is off and the
kernel's higher-half addresses are not readable yet).

Task states are decoded by gdb_scripts/kt/taskstate.py, the one decoder kt-ps
uses too, with the values the kernel build generates from its headers
(kt/constants.py); it is loaded by path because it lives where gdb can load it.
"""

from __future__ import annotations

import importlib.util
import os
import struct
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from . import dwarf as dw
from .dwarf import LayoutError, per_elf

# Members of struct task_struct the stub uses; `required` ones must exist.
TASK_REQUIRED = ("state", "pid", "comm", "tasks", "thread")
TASK_OPTIONAL = ("stack", "exit_state", "flags", "parent", "cpu")
SYMBOLS_REQUIRED = ("init_task", "current_task")
SYMBOLS_OPTIONAL = ("ret_from_fork", "log_buf", "log_end", "log_buf_len", "jiffies",
                    "nr_switches", "idt_descr", "early_gdt_descr", "kthreadd_task",
                    "kernel_thread_helper", "__per_cpu_offset")

MAX_TASKS = 4096  # a longer list is taken as corrupt (or not set up yet)


@dataclass(frozen=True)
class KernelLayout:
    """Offsets (bytes) inside struct task_struct and the symbols of the kernel."""

    task_size: int
    task: Dict[str, int]            # member -> offset in task_struct
    comm_len: int                   # sizeof(task_struct.comm)
    list_next: int                  # offset of list_head.next
    thread_sp: int                  # offset of thread.sp inside task_struct
    thread_ip: int                  # offset of thread.ip inside task_struct
    symbols: Dict[str, Tuple[int, int]] = field(default_factory=dict)  # name -> (addr, size)

    def sym(self, name: str) -> Optional[int]:
        s = self.symbols.get(name)
        return None if s is None else s[0]

    @classmethod
    def from_elf(cls, path) -> "KernelLayout":
        """The layout of the kernel at `path`, read once per ELF version."""
        return per_elf(_LAYOUTS, path, _read_layout)


_LAYOUTS: Dict[tuple, KernelLayout] = {}  # (realpath, size, mtime) -> layout


def _read_layout(path) -> KernelLayout:
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        elf = ELFFile(f)
        if not elf.has_dwarf_info():
            raise LayoutError(f"{path}: no DWARF debug info (build with -g)")
        dwarf = elf.get_dwarf_info()
        task = dw.find_struct(dwarf, "task_struct", prefer="init_task")
        if task is None:
            raise LayoutError(f"{path}: no definition of struct task_struct in DWARF")
        members = dw.members(task)
        missing = [m for m in TASK_REQUIRED if m not in members]
        if missing:
            raise LayoutError(f"struct task_struct has no member {', '.join(missing)}")
        offsets = {m: members[m][0] for m in TASK_REQUIRED + TASK_OPTIONAL if m in members}
        comm_len = dw.array_len(members["comm"][1]) or taskstate.TASK_COMM_LEN
        thread_die = dw.strip(members["thread"][1])
        tmembers = dw.members(thread_die) if thread_die is not None else {}
        if "sp" not in tmembers or "ip" not in tmembers:
            raise LayoutError("struct thread_struct has no sp/ip members")
        list_die = dw.strip(members["tasks"][1])
        lmembers = dw.members(list_die) if list_die is not None else {}
        if "next" not in lmembers:
            raise LayoutError("struct list_head has no next member")
        size = task.attributes["DW_AT_byte_size"].value if "DW_AT_byte_size" in task.attributes else 0

        symtab = elf.get_section_by_name(".symtab")
        if symtab is None:
            raise LayoutError(f"{path}: no symbol table")
        symbols = {}
        for name in SYMBOLS_REQUIRED + SYMBOLS_OPTIONAL:
            found = symtab.get_symbol_by_name(name)
            if found:
                symbols[name] = (found[0]["st_value"], found[0]["st_size"])
        missing = [s for s in SYMBOLS_REQUIRED if s not in symbols]
        if missing:
            raise LayoutError(f"{path}: no symbol {', '.join(missing)}")
        return KernelLayout(
            task_size=size, task=offsets, comm_len=comm_len,
            list_next=lmembers["next"][0],
            thread_sp=offsets["thread"] + tmembers["sp"][0],
            thread_ip=offsets["thread"] + tmembers["ip"][0],
            symbols=symbols,
        )


# ------------------------------------------------------------------ tasks

def _load_kt(name):
    """gdb_scripts/kt/<name>.py, pure Python the gdb helpers import too:
    loaded by path, since gdb's Python cannot import gdbstub (gdb_scripts/
    sits beside gdbstub/ in a checkout and in the wheel, setup.py; this file
    is gdbstub/kernelaware/oskernel.py)."""
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.path.join(top, "gdb_scripts", "kt", f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"kt_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


taskstate = _load_kt("taskstate")   # the one task-state decoder
walkers = _load_kt("walkers")       # the one list walker and log-ring reader


@dataclass(frozen=True)
class Task:
    addr: int          # address of its task_struct
    pid: int
    comm: str
    state: int
    exit_state: int
    sp: int            # thread.sp: saved stack pointer (valid while not running)
    ip: int            # thread.ip: resume address (valid while not running)
    cpu: int = 0       # task->cpu: the CPU whose run queue it is on (0 without the field)

    def state_name(self, running: bool) -> str:
        """One word: running (on the CPU), runnable, sleeping, uninterruptible, zombie, dead."""
        return taskstate.decode(self.state, self.exit_state, running)[1]

    def state_letter(self, running: bool) -> str:
        return taskstate.decode(self.state, self.exit_state, running)[0]


ReadMemory = Callable[[int, int], bytes]


class TaskWalker:
    """Reads tasks from target memory with a `read_memory(addr, size)` callable
    that raises (any exception) or returns short data for unreadable memory."""

    def __init__(self, layout: KernelLayout, read_memory: ReadMemory):
        self.layout = layout
        self._read = read_memory

    def _mem(self, addr: int, size: int) -> Optional[bytes]:
        try:
            data = self._read(addr & 0xFFFFFFFF, size)
        except Exception:
            return None
        return bytes(data) if data is not None and len(data) == size else None

    def _u32(self, addr: int) -> Optional[int]:
        b = self._mem(addr, 4)
        return None if b is None else struct.unpack("<I", b)[0]

    def per_cpu_offset(self, cpu: int) -> Optional[int]:
        """__per_cpu_offset[cpu] (asm/percpu.h): CPU 0's copy is the symbol
        itself; None for a CPU whose area is not set up yet (offset still 0)
        or a kernel without the array."""
        if cpu == 0:
            return 0
        base = self.layout.sym("__per_cpu_offset")
        off = None if base is None else self._u32(base + 4 * cpu)
        return off or None

    def current_task(self, cpu: int = 0) -> Optional[int]:
        """CPU `cpu`'s current_task, per_cpu(current_task, cpu) (0 or None when
        not set up or unreadable)."""
        off = self.per_cpu_offset(cpu)
        return None if off is None else self._u32(self.layout.sym("current_task") + off)

    def read_task(self, addr: int) -> Optional[Task]:
        L = self.layout
        off = L.task
        end = max(off["comm"] + L.comm_len, L.thread_ip + 4, L.thread_sp + 4,
                  *(v + 4 for k, v in off.items() if k not in ("comm", "thread", "tasks")))
        raw = self._mem(addr, end)
        if raw is None:
            return None

        def u32(o):
            return struct.unpack_from("<I", raw, o)[0]

        def s32(o):
            return struct.unpack_from("<i", raw, o)[0]

        comm = raw[off["comm"]:off["comm"] + L.comm_len].split(b"\0", 1)[0]
        return Task(addr=addr, pid=s32(off["pid"]), comm=comm.decode("latin-1"),
                    state=s32(off["state"]),
                    exit_state=s32(off["exit_state"]) if "exit_state" in off else 0,
                    sp=u32(L.thread_sp), ip=u32(L.thread_ip),
                    cpu=s32(off["cpu"]) if "cpu" in off else 0)

    def task_addrs(self) -> Optional[List[int]]:
        """Addresses of every task on init_task.tasks, init_task first; None if
        the list cannot be walked (not set up yet, unreadable, corrupt)."""
        L = self.layout
        head = L.sym("init_task") + L.task["tasks"]
        try:
            return [L.sym("init_task")] + [
                (node - L.task["tasks"]) & 0xFFFFFFFF
                for node in walkers.list_nodes(self._mem, head, L.list_next, limit=MAX_TASKS)]
        except walkers.WalkError:
            return None

    def tasks(self) -> Optional[List[Task]]:
        addrs = self.task_addrs()
        if addrs is None:
            return None
        out = []
        for a in addrs:
            t = self.read_task(a)
            if t is None:
                return None
            out.append(t)
        return out

    def read_u32(self, addr: int) -> Optional[int]:
        return self._u32(addr)

    # switch_to (include/asm/system.h) parks a task: pushfl, pushl %ebp, then
    # thread.sp = esp, thread.ip = its label 1 (which pops them again)
    SWITCH_FRAME = (("ebp", 0), ("eflags", 4))   # (register, offset from thread.sp)

    def saved_registers(self, task: Task) -> Dict[str, int]:
        """The registers of a task that is not running, as far as they were
        saved: eip = thread.ip, esp = thread.sp and what switch_to pushed
        there; a task that never ran (eip = ret_from_fork, esp = its
        pt_regs) has only eip and esp."""
        out = {"eip": task.ip, "esp": task.sp}
        if task.ip != self.layout.sym("ret_from_fork"):
            for name, off in self.SWITCH_FRAME:
                value = self._u32(task.sp + off)
                if value is not None:
                    out[name] = value
        return out

    def descriptor(self, sym: str) -> Optional[Tuple[int, int]]:
        """(base, limit) of the descriptor-table pointer the kernel keeps in
        `sym` for lgdt/lidt (early_gdt_descr, idt_descr): the operand format
        the CPU defines, a 16-bit limit then a 32-bit base."""
        addr = self.layout.sym(sym)
        raw = self._mem(addr, 6) if addr is not None else None
        if raw is None:
            return None
        limit, base = struct.unpack("<HI", raw)
        return base, limit

    def log_bytes(self) -> bytes:
        """The kernel log (log_buf, log_end), oldest byte first; raises
        walkers.WalkError (one line) when it cannot be read."""
        L = self.layout
        buf, end_sym = L.sym("log_buf"), L.sym("log_end")
        if buf is None or end_sym is None:
            raise walkers.WalkError("the kernel has no log_buf/log_end symbols")
        size = L.symbols["log_buf"][1]
        if not size and L.sym("log_buf_len") is not None:
            size = self._u32(L.sym("log_buf_len")) or 0
        end = self._u32(end_sym)
        if end is None or not size:
            raise walkers.WalkError("log_buf is not readable yet (paging off?)")
        return walkers.log_bytes(self._mem, buf, size, end)

    def read(self, addr: int, size: int) -> Optional[bytes]:
        return self._mem(addr, size)
