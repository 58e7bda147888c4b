"""The i386 target description (target.xml), generated from regs.REGISTERS.

Served through ``qXfer:features:read:target.xml:offset,length``.  The register
numbers are implicit (document order starting at 0), which is also the order
of the ``g`` packet.
"""

from __future__ import annotations

from functools import lru_cache
from xml.sax.saxutils import quoteattr

from . import regs
from .packet import XFER_MAX


@lru_cache(maxsize=None)
def target_xml() -> bytes:
    lines = [
        '<?xml version="1.0"?>',
        '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
        '<target version="1.0">',
        f"  <architecture>{regs.ARCHITECTURE}</architecture>",
    ]
    feature = None
    for num, reg in enumerate(regs.REGISTERS):
        if reg.feature != feature:          # the table keeps each feature contiguous
            if feature is not None:
                lines.append("  </feature>")
            feature = reg.feature
            lines.append(f"  <feature name={quoteattr(feature)}>")
            if feature == regs.CORE_FEATURE:
                lines.append('    <flags id="i386_eflags" size="4">')
                for bit, name in regs.EFLAGS_FIELDS:
                    lines.append(f'      <field name={quoteattr(name)} start="{bit}" end="{bit}"/>')
                lines.append("    </flags>")
        attrs = f'name="{reg.name}" bitsize="{reg.bitsize}" type="{reg.type}" regnum="{num}"'
        if reg.group:
            attrs += f' group="{reg.group}"'
        lines.append(f"    <reg {attrs}/>")
    lines += ["  </feature>", "</target>", ""]
    return "\n".join(lines).encode("ascii")


ANNEXES = {"target.xml": target_xml}


def read_annex(annex: str, offset: int, length: int):
    """Return the ``m``/``l`` reply body for a qXfer read, or None if unknown."""
    fn = ANNEXES.get(annex)
    if fn is None:
        return None
    doc = fn()
    chunk = doc[offset : offset + min(length, XFER_MAX)]
    more = offset + len(chunk) < len(doc)
    return (b"m" if more else b"l") + chunk
