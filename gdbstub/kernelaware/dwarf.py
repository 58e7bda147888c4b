"""The kernel ELF's DWARF, read with pyelftools: the stub's one reader of
guest layouts (oskernel.py's task layout, schedtrace.py's probe layout).

Offsets and sizes of the guest's structures come from here (or, in gdb,
from gdb's types), never from numbers written in the code: rebuild the
kernel with another layout and everything follows
(tests/test_kernel_layout.py).
"""

from __future__ import annotations

import os
from typing import Dict, Optional, Tuple


class LayoutError(Exception):
    """The kernel ELF lacks what a layout needs (no DWARF, no symbol...)."""


def per_elf(cache: dict, path, read):
    """read(path), cached in `cache` per version of the file (a rebuilt
    kernel has another size or mtime, so it is read again)."""
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    hit = cache.get(key)
    if hit is None:
        hit = cache[key] = read(path)
    return hit


def name(die) -> Optional[str]:
    a = die.attributes.get("DW_AT_name")
    return None if a is None else a.value.decode("utf-8", "replace")


def member_offset(die) -> int:
    a = die.attributes.get("DW_AT_data_member_location")
    if a is None:
        return 0  # members of a union
    if isinstance(a.value, int):
        return a.value
    # DWARF 2 style: a location expression DW_OP_plus_uconst N
    expr = a.value
    if expr and expr[0] == 0x23:  # DW_OP_plus_uconst, ULEB128 operand
        val, shift = 0, 0
        for b in expr[1:]:
            val |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        return val
    raise LayoutError(f"unsupported member location for {name(die)}")


def strip(die):
    """Follow typedefs and qualifiers to the underlying type DIE."""
    while die is not None and die.tag in ("DW_TAG_typedef", "DW_TAG_const_type",
                                          "DW_TAG_volatile_type"):
        if "DW_AT_type" not in die.attributes:
            return None
        die = die.get_DIE_from_attribute("DW_AT_type")
    return die


def array_len(die) -> Optional[int]:
    die = strip(die)
    if die is None or die.tag != "DW_TAG_array_type":
        return None
    for sub in die.iter_children():
        if sub.tag == "DW_TAG_subrange_type":
            if "DW_AT_count" in sub.attributes:
                return sub.attributes["DW_AT_count"].value
            if "DW_AT_upper_bound" in sub.attributes:
                return sub.attributes["DW_AT_upper_bound"].value + 1
    return None


def members(struct_die) -> Dict[str, Tuple[int, object]]:
    out = {}
    for c in struct_die.iter_children():
        if c.tag == "DW_TAG_member" and name(c):
            ty = c.get_DIE_from_attribute("DW_AT_type") if "DW_AT_type" in c.attributes else None
            out[name(c)] = (member_offset(c), ty)
    return out


def find_struct(dwarf, struct_name: str, prefer: str = ""):
    """The first complete (non-declaration) definition of `struct struct_name`,
    looking first in CUs whose name contains `prefer`."""
    cus = list(dwarf.iter_CUs())
    cus.sort(key=lambda cu: prefer not in (name(cu.get_top_DIE()) or ""))
    for cu in cus:
        for die in cu.get_top_DIE().iter_children():
            if (die.tag == "DW_TAG_structure_type" and name(die) == struct_name
                    and "DW_AT_declaration" not in die.attributes):
                return die
    return None

