"""``monitor CMD`` (qRcmd): commands gdb passes through to the stub.

Output goes to gdb's console in ``O`` packets, then the reply ``OK`` (as QEMU
and OpenOCD do).  Commands that need the kernel (``ps``, ``dmesg``) read it
through target memory with the layout learnt from the kernel's DWARF
(oskernel.py); commands about the machine itself (``icount``, ``cr``,
``console``, ``translate``, ``reset``) are the target's own
(`MachineTarget.monitor`).
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

O_CHUNK = 1024  # text bytes per O packet (2 KiB of hex)

HELP_HEAD = (
    ("monitor help", "this text"),
    ("monitor ps", "kernel tasks: pid, thread id, state, comm (* = on the CPU)"),
    ("monitor dmesg", "the kernel log buffer (log_buf)"),
    ("monitor info registers", "CPU registers, control registers, gdtr, idtr"),
    ("monitor info mem", "mapped virtual ranges and their rights (QEMU's format)"),
    ("monitor info tlb", "every mapped page: virtual, physical, flags (QEMU's format)"),
    ("monitor tasks on|off", "show kernel tasks as gdb threads (default off: one CPU thread)"),
    ("monitor trace on", "record scheduling from now (Chrome trace JSON, for Perfetto)\n"
                         "into the stub's --trace FILE or a new file in its --trace-dir"),
    ("monitor trace off", "stop recording and write the file"),
    ("monitor trace tail [N]", "the last N trace events, one a line (default 20)"),
    ("monitor trace status", "whether recording, how many events, which file"),
)


def help_text(target_help: str) -> str:
    """Our commands and the target's (its MONITOR_HELP: `monitor CMD  what`
    lines) with every description in one column."""
    rows = list(HELP_HEAD)
    for line in target_help.splitlines():
        cmd, _, what = line.partition("  ")
        rows.append((cmd.rstrip(), what.strip()))
    width = max(len(cmd) for cmd, _ in rows) + 2
    return "".join(f"{cmd:<{width}}" + what.replace("\n", "\n" + " " * width) + "\n"
                   for cmd, what in rows)


GENERAL = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags",
           "cs", "ss", "ds", "es", "fs", "gs")
CONTROL = ("cr0", "cr2", "cr3", "cr4")


class MonitorError(Exception):
    """A monitor command cannot run now; the message is shown to the user."""


def output_packets(text: str) -> List[bytes]:
    """Console text -> ``O`` packets."""
    data = text.encode("utf-8", "replace")
    return [b"O" + data[i:i + O_CHUNK].hex().encode() for i in range(0, len(data), O_CHUNK)]


class Monitor:
    def __init__(self, ctx):
        self.ctx = ctx
        self.commands: Dict[Tuple[str, ...], Callable[[List[str]], str]] = {
            ("help",): self.help,
            ("ps",): self.ps,
            ("dmesg",): self.dmesg,
            ("info", "registers"): self.info_registers,
            ("info", "mem"): self.info_mem,
            ("info", "tlb"): self.info_tlb,
            ("tasks",): self.tasks,
            ("trace",): self.trace,
        }

    # -- entry point
    def run(self, line: str) -> str:
        words = line.split()
        if not words:
            return self.help([])
        for key in sorted(self.commands, key=len, reverse=True):
            if tuple(words[:len(key)]) == key:
                try:
                    return self.commands[key](words[len(key):])
                except MonitorError as e:
                    return f"monitor {' '.join(key)}: {e}\n"
        fn = getattr(self.ctx.target, "monitor", None)
        pc_before = self.ctx.target.read_register("eip") if words[0] == "reset" else None
        out = fn(line.strip()) if fn else None
        if out is None:
            return (f"unknown monitor command {line.strip()!r}; "
                    "'monitor help' lists the commands\n")
        if words[0] == "reset":
            invalidate = getattr(self.ctx.threads, "invalidate", None)
            if invalidate:
                invalidate()
            # gdb keeps its register cache across a monitor command (as after
            # `monitor tasks on`): `p $pc` would show the pc from before.
            out += (f"gdb still has the registers from before the reset cached ($pc "
                    f"0x{pc_before:08x}): run 'maintenance flush register-cache' to see "
                    f"the machine at its entry point (eip 0x"
                    f"{self.ctx.target.read_register('eip'):08x})\n")
        return out

    # -- commands
    def help(self, args) -> str:
        return help_text(getattr(self.ctx.target, "MONITOR_HELP", ""))

    def _kernel(self):
        threads = self.ctx.threads
        if not hasattr(threads, "tasks"):
            raise MonitorError("the stub has no kernel layout (no kernel ELF with DWARF)")
        return threads

    def ps(self, args) -> str:
        threads = self._kernel()
        tasks = threads.task_table()
        if tasks is None:
            raise MonitorError("the kernel has not set up its task list yet "
                               "(current_task is not readable)")
        cur = threads.running_pid()
        rows = []
        for pid, t in tasks.items():
            running = pid == cur
            tid = threads.thread_of(pid)
            rows.append((running, pid, "-" if tid is None else str(tid),
                         f"{t.state_letter(running)} ({t.state_name(running)})", t.comm))
        width = max([16] + [len(r[3]) for r in rows])   # 'D (uninterruptible)' is 19
        lines = [f"  PID  THREAD  {'STATE':<{width}} COMM"]
        for running, pid, tid, state, comm in rows:
            lines.append(f"{'*' if running else ' '}{pid:4d}  {tid:>6}  {state:<{width}} {comm}")
        return "\n".join(lines) + "\n"

    def tasks(self, args) -> str:
        threads = self._kernel()
        if args and args[0] in ("on", "off"):
            on = args[0] == "on"
            threads.set_enabled(on)
            if not on:
                self.ctx.general_thread = self.ctx.continue_thread = 0   # the one CPU thread
            elif self.ctx.general_thread in (0, -1):
                # gdb took the last stop's thread, the CPU, as selected (Hg):
                # from now on that thread is swapper (pid 0), so its registers are swapper's
                self.ctx.general_thread = threads.thread_of(threads.CPU_PID) or 0
        elif args:
            raise MonitorError("say on or off")
        state = "on" if threads.enabled else "off"
        text = f"kernel tasks as threads: {state}\n"
        if args:
            text += ("gdb sees the new thread list at its next stop or 'info threads' "
                     "(run 'maintenance flush register-cache' to re-read registers now)\n")
            cpu = threads.thread_of(threads.CPU_PID)
            cur = threads.running_pid() if threads.enabled else None
            if cur is not None and cur != threads.CPU_PID and cpu is not None:
                # gdb stays on its CPU thread, which is now swapper (pid 0), not the CPU
                task = threads.task_table()[cur]
                text += (f"gdb's current thread {cpu} is now swapper (pid 0); the CPU runs "
                         f"{task.comm} (pid {task.pid}): 'info threads' lists it\n")
        return text

    def trace(self, args) -> str:
        """The machine's scheduling trace (schedtrace.py)."""
        from .kernelaware.schedtrace import TAIL_DEFAULT, TraceError, tracer_for

        sub = args[0] if args else "status"
        try:
            tr = tracer_for(self.ctx.target)
            if sub == "on":
                if len(args) > 1:
                    raise MonitorError("takes no file name (a client never names a host "
                                       "file): the stub writes its --trace FILE, or a new "
                                       "file in its --trace-dir DIR")
                old = tr.start_chosen()
                text = f"trace on from icount {tr.start_ic}: "
                text += (f"writing {tr.path} (on 'monitor trace off', when gdb detaches "
                         "and when the stub exits)\n" if tr.path else
                         "in memory ('monitor trace tail'; start the stub with --trace FILE "
                         "or --trace-dir DIR to save it)\n")
                return (f"previous trace written to {old}\n" if old else "") + text
            if sub == "off" and len(args) == 1:
                if not tr.recording:
                    return "trace is off already\n"
                path = tr.stop()
                where = f"written to {path}" if path else "kept in memory"
                return f"trace off: {len(tr.records)} events {where}\n"
            if sub == "tail" and len(args) <= 2:
                try:
                    n = int(args[1]) if len(args) == 2 else TAIL_DEFAULT
                except ValueError:
                    n = -1
                if n < 0:
                    raise MonitorError(f"bad count {args[1]!r}: say tail N, N >= 0")
                return tr.tail(n)
            if sub == "status" and len(args) <= 1:
                return tr.status()
        except TraceError as e:
            raise MonitorError(str(e)) from None
        raise MonitorError("say on, off, tail [N] or status")

    def dmesg(self, args) -> str:
        from .kernelaware.oskernel import walkers
        try:
            text = self._kernel().walker.log_bytes().decode("latin-1")
        except walkers.WalkError as e:
            raise MonitorError(str(e))
        if not text:
            return "(the log is empty)\n"
        return text if text.endswith("\n") else text + "\n"

    def info_registers(self, args) -> str:
        target = self.ctx.target
        values = {}
        for name in GENERAL + CONTROL:
            try:
                values[name] = target.read_register(name)
            except Exception:
                values[name] = None

        def fmt(name):
            v = values[name]
            return f"{name:<7}0x{v:08x}" if v is not None else f"{name:<7}<unavailable>"

        lines = []
        for row in (GENERAL[0:4], GENERAL[4:8], GENERAL[8:10], GENERAL[10:16], CONTROL):
            lines.append("   ".join(fmt(n) for n in row))
        for name in ("gdtr", "idtr"):
            lines.append(self._table_line(name))
        return "\n".join(lines) + "\n"

    def _paging(self, fn, args) -> str:
        """QEMU's `info mem`/`info tlb` text (hmpinfo.py) for GEF, pwndbg..."""
        target = self.ctx.target
        read = getattr(target, "read_physical", None)
        if args:
            raise MonitorError("takes no arguments")
        if read is None:
            raise MonitorError("the target has no physical memory to walk")
        cr0, cr3, cr4 = (target.read_register(r) for r in ("cr0", "cr3", "cr4"))
        return fn(read, cr0, cr3, cr4)

    def info_mem(self, args) -> str:
        from .hmpinfo import info_mem
        return self._paging(info_mem, args)

    def info_tlb(self, args) -> str:
        from .hmpinfo import info_tlb
        return self._paging(info_tlb, args)

    def _table_line(self, name: str) -> str:
        """gdtr/idtr: from the machine if it exposes them, else from the
        descriptor the kernel loaded with lgdt/lidt (a kernel variable)."""
        fn = getattr(self.ctx.target, "descriptor_table", None)
        got = fn(name) if fn else None
        if got is not None:
            base, limit = got
            return f"{name:<7}base=0x{base:08x} limit=0x{limit:04x}"
        sym = {"gdtr": "early_gdt_descr", "idtr": "idt_descr"}[name]
        walker = getattr(self.ctx.threads, "walker", None)     # no kernel layout: None
        got = walker.descriptor(sym) if walker is not None else None
        if got is None:
            return f"{name:<7}<unavailable> (the machine does not expose it; {sym} not readable)"
        base, limit = got
        return (f"{name:<7}base=0x{base:08x} limit=0x{limit:04x}"
                f"   (from the kernel's {sym}: the machine API does not expose {name})")
