"""The one register table.

Everything register-shaped in the stub is driven by `REGISTERS`: the order and
sizes of the ``g``/``G`` blobs, the register numbers of ``p``/``P`` and of the
expedited registers in stop replies, and the target description (tdesc.py).

The layout is gdb's ``org.gnu.gdb.i386.core`` feature (features/i386/32bit-core.xml
in the gdb sources): 8 general registers, eip, eflags, 6 segment registers,
st0..st7 (80-bit extended), then the 8 x87 control registers.  gdb's i386
architecture validates the feature by register name, so names and order must
match it exactly.  cr0, cr2, cr3 and cr4 follow, in a feature of their own.  `machine` is the name used with Machine.read_register().
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

ARCHITECTURE = "i386"
CORE_FEATURE = "org.gnu.gdb.i386.core"
# Control registers, as QEMU's i386 description also offers them (`p/x $cr3`).
# gdb has no standard feature for them on i386; it takes registers of a
# feature it does not know as plain registers of the given type and group.
SYS_FEATURE = "org.kthread.i386.sys"


@dataclass(frozen=True)
class Register:
    name: str
    bitsize: int
    type: str
    group: Optional[str] = None
    machine: Optional[str] = None  # defaults to `name`
    feature: str = CORE_FEATURE
    size: int = field(init=False, compare=False)  # bytes

    def __post_init__(self):
        object.__setattr__(self, "size", self.bitsize // 8)

    @property
    def machine_name(self) -> str:
        return self.machine or self.name


def _core() -> Tuple[Register, ...]:
    regs = []
    for name in ("eax", "ecx", "edx", "ebx"):
        regs.append(Register(name, 32, "int32"))
    regs.append(Register("esp", 32, "data_ptr"))
    regs.append(Register("ebp", 32, "data_ptr"))
    for name in ("esi", "edi"):
        regs.append(Register(name, 32, "int32"))
    regs.append(Register("eip", 32, "code_ptr"))
    regs.append(Register("eflags", 32, "i386_eflags"))
    for name in ("cs", "ss", "ds", "es", "fs", "gs"):
        regs.append(Register(name, 32, "int32"))
    for i in range(8):
        regs.append(Register(f"st{i}", 80, "i387_ext"))
    for name in ("fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop"):
        regs.append(Register(name, 32, "int", group="float"))
    for name in ("cr0", "cr2", "cr3", "cr4"):
        # group "system": shown by `info all-registers`, not `info registers`.
        regs.append(Register(name, 32, "uint32", group="system", feature=SYS_FEATURE))
    return tuple(regs)


REGISTERS: Tuple[Register, ...] = _core()
BY_NAME: Dict[str, int] = {r.name: i for i, r in enumerate(REGISTERS)}

# The eflags bits gdb's i386_eflags flags type names (bit, name).
EFLAGS_FIELDS = (
    (0, "CF"), (1, ""), (2, "PF"), (4, "AF"), (6, "ZF"), (7, "SF"), (8, "TF"),
    (9, "IF"), (10, "DF"), (11, "OF"), (14, "NT"), (16, "RF"), (17, "VM"),
    (18, "AC"), (19, "VIF"), (20, "VIP"), (21, "ID"),
)

# Registers sent with every stop reply so gdb need not ask for them (its
# unwinder needs pc, sp and fp first).
EXPEDITED = ("esp", "ebp", "eip")

PC = BY_NAME["eip"]
SP = BY_NAME["esp"]
FP = BY_NAME["ebp"]

G_PACKET_SIZE = sum(r.size for r in REGISTERS)

_G_LAYOUT = [(r.size, (1 << r.bitsize) - 1) for r in REGISTERS]


def encode_all(values) -> bytes:
    """All registers (in table order) -> the ``g`` blob."""
    return b"".join((v & mask).to_bytes(size, "little") for (size, mask), v in zip(_G_LAYOUT, values))


def encode_value(reg: Register, value: int) -> bytes:
    return (value & ((1 << reg.bitsize) - 1)).to_bytes(reg.size, "little")


def decode_value(reg: Register, data: bytes) -> int:
    if len(data) != reg.size:
        raise ValueError(f"{reg.name} takes {reg.size} bytes, got {len(data)}")
    return int.from_bytes(data, "little")


def split_g(blob: bytes):
    """Split a ``G`` blob into (register, bytes) pairs; a short blob covers a prefix."""
    off = 0
    for reg in REGISTERS:
        if off + reg.size > len(blob):
            break
        yield reg, blob[off : off + reg.size]
        off += reg.size


# Lengths a G blob may have: whole registers from the first (gdb sends them all).
G_PREFIX_SIZES = frozenset(sum(r.size for r in REGISTERS[:n]) for n in range(1, len(REGISTERS) + 1))
