"""target.xml: well-formed, gdb's 32bit-core register order, matching the g packet."""

import xml.etree.ElementTree as ET

from gdbstub.rsp import regs
from gdbstub.rsp.tdesc import target_xml

# gdb/features/i386/32bit-core.xml, in order.
GDB_I386_CORE = (
    ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags",
     "cs", "ss", "ds", "es", "fs", "gs"]
    + [f"st{i}" for i in range(8)]
    + ["fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop"]
)


def test_well_formed_and_architecture():
    root = ET.fromstring(target_xml())
    assert root.tag == "target"
    assert root.find("architecture").text == "i386"
    feats = root.findall("feature")
    assert [f.get("name") for f in feats] == ["org.gnu.gdb.i386.core", "org.kthread.i386.sys"]
    sys_regs = feats[1].findall("reg")
    assert [r.get("name") for r in sys_regs] == ["cr0", "cr2", "cr3", "cr4"]
    assert {r.get("group") for r in sys_regs} == {"system"}   # not in `info registers`


def test_register_order_types_and_groups():
    root = ET.fromstring(target_xml())
    rs = root.find("feature").findall("reg")
    assert [r.get("name") for r in rs] == GDB_I386_CORE
    assert [int(r.get("regnum")) for r in rs] == list(range(len(rs)))
    by = {r.get("name"): r for r in rs}
    assert by["esp"].get("type") == by["ebp"].get("type") == "data_ptr"
    assert by["eip"].get("type") == "code_ptr"
    assert by["eflags"].get("type") == "i386_eflags"
    assert by["st3"].get("bitsize") == "80" and by["st3"].get("type") == "i387_ext"
    for n in GDB_I386_CORE[-8:]:
        assert by[n].get("group") == "float" and by[n].get("bitsize") == "32"
    for n in GDB_I386_CORE[:16]:
        assert by[n].get("bitsize") == "32"


def test_eflags_flags_type():
    root = ET.fromstring(target_xml())
    flags = root.find("feature").find("flags")
    assert flags.get("id") == "i386_eflags" and flags.get("size") == "4"
    fields = {f.get("name"): int(f.get("start")) for f in flags.findall("field")}
    assert fields["CF"] == 0 and fields["ZF"] == 6 and fields["IF"] == 9 and fields["ID"] == 21


def test_xml_matches_the_register_table():
    root = ET.fromstring(target_xml())
    rs = root.findall("feature/reg")
    assert len(rs) == len(regs.REGISTERS)
    assert [int(r.get("regnum")) for r in rs] == list(range(len(rs)))
    assert sum(int(r.get("bitsize")) for r in rs) // 8 == regs.G_PACKET_SIZE
    assert regs.PC == 8 and regs.SP == 4 and regs.FP == 5
