"""`monitor` commands (qRcmd) in real gdb, through a real stub, on the real kernel.

Output reaches gdb in O packets (then OK), so gdb prints it as it comes.
"""
import re

import pytest

from gdbharness import match_in_order, run_gdb, section


@pytest.fixture(scope="module")
def transcript(kernel, gdb):
    return run_gdb(kernel,
                   "monitor help", "monitor ps", "monitor dmesg", "monitor info registers",
                   "break oops_test", "continue",
                   "echo ---booted---\\n",
                   "monitor ps", "monitor dmesg", "monitor info registers",
                   "p/x $eip", "p/x $esp", "monitor icount", "monitor frobnicate 1 2",
                   "echo ---reset---\\n",
                   "monitor reset", "monitor icount", "maintenance flush register-cache",
                   "p/x $pc", "monitor ps", "echo ---end---\\n")


def test_help_lists_the_commands(transcript):
    text = section(transcript, "(gdb) monitor help", "(gdb) monitor ps")
    for cmd in ("monitor help", "monitor ps", "monitor dmesg", "monitor info registers",
                "monitor icount", "monitor reset", "monitor tasks [on|off]", "monitor cr",
                "monitor console", "monitor translate VA"):
        assert cmd in text, cmd


def test_help_puts_every_description_in_one_column(transcript):
    """Ours and the machine's commands (icount on) alike; ps names its THREAD column."""
    text = section(transcript, "(gdb) monitor help\n", "(gdb) monitor ps")
    rows = [line for line in text.splitlines() if line.startswith("monitor ")]
    assert len(rows) >= 15
    columns = {re.match(r"monitor \S+(?: \S+)*?  +", row).end() for row in rows}
    assert len(columns) == 1, rows
    assert any(re.fullmatch(r"monitor ps +kernel tasks: pid, thread id, state, comm .*", row)
               for row in rows)


def test_before_the_kernel_runs(transcript):
    text = section(transcript, "(gdb) monitor ps", "(gdb) break oops_test")
    match_in_order([
        "monitor ps: the kernel has not set up its task list yet (current_task is not readable)",
        "(gdb) monitor dmesg",
        "monitor dmesg: log_buf is not readable yet (paging off?)",
        "(gdb) monitor info registers",
        r"re:eax    0x........   ecx    0x........   edx    0x........   ebx    0x........",
        r"re:eip    0x........   eflags 0x........",
        r"re:cr0    0x........   cr2    0x........   cr3    0x........   cr4    0x........",
        r"re:gdtr   <unavailable> .*",
        r"re:idtr   <unavailable> .*",
    ], text)
    assert "eax    0x2badb002" in text          # the multiboot magic, at the entry point
    assert "eip    0x01000010" in text


def test_ps_after_boot(transcript):
    text = section(transcript, "---booted---", "(gdb) monitor dmesg")
    match_in_order([
        "  PID  THREAD  STATE            COMM",    # tasks off: gdb knows no task as a thread
        "    0       -  R (runnable)     swapper",
        "*   1       -  R (running)      init",
        "    2       -  S (sleeping)     kthreadd",
        "    3       -  S (sleeping)     ksoftirqd/0",
        "    4       -  S (sleeping)     events/0",
        "    5       -  S (sleeping)     khelper",
        "(gdb) ",
    ], text + "(gdb) ")


def test_dmesg_is_the_kernel_log(transcript):
    text = section(transcript, "---booted---", "---reset---")
    text = section(text, "(gdb) monitor dmesg", "(gdb) monitor info registers")
    match_in_order([
        r"re:Linux version 2\.6\.32-kthread .*",
        "init: running as pid 1",
        "kthread: created ksoftirqd/0 pid 3",
        "kthread: created kthread_demo pid 6",
        "kthreadd: request list empty",
        "release_task: pid 6 (kthread_demo) by kthread_demo",
        "kthread_stop: kthread_demo pid 6 returned 42",
        "init: boot complete",
    ], text)


def test_info_registers_after_boot(transcript):
    text = section(transcript, "---booted---", "---reset---")
    regs = section(text, "(gdb) monitor info registers", "(gdb) p/x $eip")
    eip = re.search(r"\$\d+ = (0x[0-9a-f]+)", text[text.index("(gdb) p/x $eip"):]).group(1)
    esp = re.search(r"\$\d+ = (0x[0-9a-f]+)", text[text.index("(gdb) p/x $esp"):]).group(1)
    assert f"eip    0x{int(eip, 16):08x}" in regs
    assert f"esp    0x{int(esp, 16):08x}" in regs
    m = re.search(r"cr0    0x([0-9a-f]{8})", regs)
    assert int(m.group(1), 16) & 0x80000001 == 0x80000001          # paging and protection on
    assert re.search(r"cs     0x00000060   ss     0x00000068", regs)
    assert re.search(r"gdtr   base=0xc[0-9a-f]{7} limit=0x[0-9a-f]{4}", regs)
    assert re.search(r"idtr   base=0xc[0-9a-f]{7} limit=0x07ff", regs)  # 256 gates


def test_icount_and_unknown_command(transcript):
    text = section(transcript, "(gdb) monitor icount", "---reset---")
    assert int(re.search(r"icount (\d+)", text).group(1)) > 1_000_000
    assert ("unknown monitor command 'frobnicate 1 2'; 'monitor help' lists the commands"
            in text)


def test_reset_goes_back_to_the_first_instruction(transcript):
    text = section(transcript, "---reset---", "---end---")
    match_in_order([
        "(gdb) monitor reset",
        "machine reset to the multiboot entry state",
        "gdb still has the registers from before the reset cached ($pc 0xc1000000): run "
        "'maintenance flush register-cache' to see the machine at its entry point "
        "(eip 0x01000010)",
        "(gdb) monitor icount",
        "icount 0",
        "(gdb) maintenance flush register-cache",
        "(gdb) p/x $pc",
        r"re:\$\d+ = 0x........",
        "(gdb) monitor ps",
        "monitor ps: the kernel has not set up its task list yet (current_task is not readable)",
    ], text)
    assert re.search(r"\$\d+ = 0x1000010\n", text)    # the multiboot entry point again
