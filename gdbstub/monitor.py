"""``monitor CMD`` (qRcmd): commands gdb passes through to the stub.

Output goes to gdb's console in ``O`` packets, then the reply ``OK`` (as QEMU
and OpenOCD do).  The stub's own commands are help and info registers/mem/tlb;
layers add theirs to ``ctx.monitor_commands`` (kernelaware/monitor.py: ps,
tasks, dmesg, trace, which read the kernel); commands about the machine
itself (``icount``, ``cr``, ``console``, ``translate``, ``reset``) are the
target's own (Target.support_monitor: `MachineTarget.monitor`).
"""

from __future__ import annotations

from typing import Callable, Dict, List, Tuple

O_CHUNK = 1024  # text bytes per O packet (2 KiB of hex)

HELP_HEAD = (
    ("monitor help", "this text"),
    ("monitor info registers", "CPU registers, control registers, gdtr, idtr"),
    ("monitor info mem", "mapped virtual ranges and their rights (QEMU's format)"),
    ("monitor info tlb", "every mapped page: virtual, physical, flags (QEMU's format)"),
)


class MonitorRegistry:
    """`monitor` commands a layer adds to the stub's own (kernelaware/monitor.py):
    words -> run(ctx, args) -> text, and (`monitor CMD`, what) help rows."""

    def __init__(self):
        self.commands: Dict[Tuple[str, ...], Callable[[object, List[str]], str]] = {}
        self.help: List[Tuple[str, str]] = []

    def add(self, words: str, run: Callable[[object, List[str]], str]) -> None:
        self.commands[tuple(words.split())] = run


def help_text(target_help: str, added=()) -> str:
    """Our commands, those layers added and the target's (its MONITOR_HELP:
    `monitor CMD  what` lines) with every description in one column."""
    rows = list(HELP_HEAD) + list(added)
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
            ("info", "registers"): self.info_registers,
            ("info", "mem"): self.info_mem,
            ("info", "tlb"): self.info_tlb,
        }

    # -- entry point
    def run(self, line: str) -> str:
        words = line.split()
        if not words:
            return self.help([])
        added = self.ctx.monitor_commands.commands
        commands = {**self.commands,
                    **{key: (lambda args, run=run: run(self.ctx, args)) for key, run in added.items()}}
        for key in sorted(commands, key=len, reverse=True):
            if tuple(words[:len(key)]) == key:
                try:
                    return commands[key](words[len(key):])
                except MonitorError as e:
                    return f"monitor {' '.join(key)}: {e}\n"
        own = self.ctx.target.support_monitor()
        pc_before = self.ctx.target.read_register("eip") if words[0] == "reset" else None
        out = own.monitor(line.strip()) if own else None
        if out is None:
            return (f"unknown monitor command {line.strip()!r}; "
                    "'monitor help' lists the commands\n")
        if words[0] == "reset":
            self.ctx.threads.invalidate()
            # gdb keeps its register cache across a monitor command (as after
            # `monitor tasks on`): `p $pc` would show the pc from before.
            out += (f"gdb still has the registers from before the reset cached ($pc "
                    f"0x{pc_before:08x}): run 'maintenance flush register-cache' to see "
                    f"the machine at its entry point (eip 0x"
                    f"{self.ctx.target.read_register('eip'):08x})\n")
        return out

    # -- commands
    def help(self, args) -> str:
        own = self.ctx.target.support_monitor()
        return help_text(own.MONITOR_HELP if own else "", self.ctx.monitor_commands.help)

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
        system = target.support_system_state()
        if args:
            raise MonitorError("takes no arguments")
        if system is None:
            raise MonitorError("the target has no physical memory to walk")
        cr0, cr3, cr4 = (target.read_register(r) for r in ("cr0", "cr3", "cr4"))
        return fn(system.read_physical, cr0, cr3, cr4)

    def info_mem(self, args) -> str:
        from .hmpinfo import info_mem
        return self._paging(info_mem, args)

    def info_tlb(self, args) -> str:
        from .hmpinfo import info_tlb
        return self._paging(info_tlb, args)

    def _table_line(self, name: str) -> str:
        """gdtr/idtr: from the machine if it exposes them, else from the
        descriptor the kernel loaded with lgdt/lidt (a kernel variable)."""
        system = self.ctx.target.support_system_state()
        got = system.descriptor_table(name) if system else None
        if got is not None:
            base, limit = got
            return f"{name:<7}base=0x{base:08x} limit=0x{limit:04x}"
        sym = {"gdtr": "early_gdt_descr", "idtr": "idt_descr"}[name]
        # kernel symbols: only a kernel-aware thread model (kernelaware/) has a walker
        walker = getattr(self.ctx.threads, "walker", None)
        got = walker.descriptor(sym) if walker is not None else None
        if got is None:
            return f"{name:<7}<unavailable> (the machine does not expose it; {sym} not readable)"
        base, limit = got
        return (f"{name:<7}base=0x{base:08x} limit=0x{limit:04x}"
                f"   (from the kernel's {sym}: the machine API does not expose {name})")
