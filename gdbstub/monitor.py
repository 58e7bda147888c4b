"""``monitor CMD`` (qRcmd): commands gdb passes through to the stub.

Output goes to gdb's console in ``O`` packets, then the reply ``OK`` (as QEMU
and OpenOCD do).  Every command declares the forms it takes in its help row
(``monitor trace tail [N]``: literal words, UPPER for any one word, a|b for a
choice, [optional] at the end); `check_words` refuses a line that fits none
of its command's forms, once for all commands, with one line naming the word
and the forms.  The stub's own commands are help and info registers/mem/tlb;
layers add theirs to ``ctx.monitor_commands`` (kernelaware/monitor.py: ps,
tasks, dmesg, trace, which read the kernel); commands about the machine
itself (``icount``, ``cr``, ``console``, ``translate``, ``reset``) are the
target's own (Target.support_monitor: `MachineTarget.monitor`).
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

O_CHUNK = 1024  # text bytes per O packet (2 KiB of hex)
SHOWN = 40      # characters of a refused word quoted back (a 3,000-character one stays one short line)

HELP_HEAD = (
    ("monitor help", "this text"),
    ("monitor info registers", "CPU registers, control registers, gdtr, idtr"),
    ("monitor info mem", "mapped virtual ranges and their rights (QEMU's format)"),
    ("monitor info tlb", "every mapped page: virtual, physical, flags (QEMU's format)"),
)


class MonitorRegistry:
    """`monitor` commands a layer adds to the stub's own (kernelaware/monitor.py):
    words -> run(ctx, args) -> text, each with its help rows (`monitor CMD
    FORM`, what), which declare the forms it takes."""

    def __init__(self):
        self.commands: Dict[Tuple[str, ...], Callable[[object, List[str]], str]] = {}
        self.help: List[Tuple[str, str]] = []

    def add(self, words: str, run: Callable[[object, List[str]], str],
            forms: Sequence[Tuple[str, str]]) -> None:
        key = words.split()
        if not forms or any(usage.split()[1:len(key) + 1] != key for usage, _ in forms):
            raise ValueError(f"monitor {words}: declare its forms as 'monitor {words} ...' rows")
        self.commands[tuple(key)] = run
        self.help.extend(forms)


Slot = Tuple[Tuple[str, ...], bool]     # (alternatives, optional)


def usage_slots(usage: str) -> List[Slot]:
    """`monitor deadline [N|off]` -> [(("deadline",), False), (("N", "off"), True)]."""
    return [(tuple(w.strip("[]").split("|")), w.startswith("[")) for w in usage.split()[1:]]


def _fits(word: str, alternatives: Tuple[str, ...]) -> bool:
    return any(a == word or a.isupper() for a in alternatives)


def _matched(slots: List[Slot], words: List[str]) -> int:
    """How many of `words` fit `slots` from the first on."""
    n = 0
    while n < min(len(words), len(slots)) and _fits(words[n], slots[n][0]):
        n += 1
    return n


def check_words(usages: Iterable[str], words: List[str]) -> Optional[str]:
    """None if `words` fit one of the forms of their command (the usages
    whose first word is words[0]; a command with none is not checked here),
    else the one-line refusal."""
    forms = [(u, usage_slots(u)) for u in usages]
    forms = [(u, s) for u, s in forms if s and words[0] in s[0][0]]
    if not forms:
        return None
    best, why = -1, ""
    for _, slots in forms:
        n = _matched(slots, words)
        required = sum(not optional for _, optional in slots)
        if n == len(words) and n >= required:
            return None
        if n > best:
            best = n
            why = (f"missing {'|'.join(slots[n][0])}" if n == len(words) else
                   f"unexpected {shown(words[n])}")
    return (f"monitor {words[0]}: {why} (usage: "
            + " | ".join(u for u, _ in forms) + ")\n")


def shown(word: str) -> str:
    """A word the user typed, quoted back in an error: at most SHOWN characters."""
    return repr(word if len(word) <= SHOWN else word[:SHOWN - 3] + "...")


def help_text(target_help: str, added=()) -> str:
    """Our commands, those layers added and the target's (its MONITOR_HELP:
    `monitor CMD  what` lines) with every description in one column."""
    rows = list(HELP_HEAD) + list(added)
    for line in target_help.splitlines():
        cmd, _, what = line.partition("  ")
        if all(cmd.rstrip() != c for c, _ in added):    # a layer's row replaces the target's
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
    def usages(self) -> List[str]:
        """Every command's forms: the command column of the help rows."""
        own = self.ctx.target.support_monitor()
        return list(dict.fromkeys(    # a layer may redeclare a target command: once
            [cmd for cmd, _ in HELP_HEAD + tuple(self.ctx.monitor_commands.help)] + [
                line.partition("  ")[0].rstrip() for line in
                (own.MONITOR_HELP if own else "").splitlines()]))

    def run(self, line: str) -> str:
        words = line.split()
        if not words:
            return self.help([])
        refused = check_words(self.usages(), words)
        if refused is not None:
            return refused
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

    def _paging(self, fn) -> str:
        """QEMU's `info mem`/`info tlb` text (hmpinfo.py) for GEF, pwndbg..."""
        target = self.ctx.target
        system = target.support_system_state()
        if system is None:
            raise MonitorError("the target has no physical memory to walk")
        cr0, cr3, cr4 = (target.read_register(r) for r in ("cr0", "cr3", "cr4"))
        return fn(system.read_physical, cr0, cr3, cr4)

    def info_mem(self, args) -> str:
        from .hmpinfo import info_mem
        return self._paging(info_mem)

    def info_tlb(self, args) -> str:
        from .hmpinfo import info_tlb
        return self._paging(info_tlb)

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
