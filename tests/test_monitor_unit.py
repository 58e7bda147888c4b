"""monitor commands over a fake kernel memory (no gdb, no unicorn): O packets,
ps, dmesg's ring buffer, tasks on/off, errors."""
import struct

import pytest

from gdbstub.monitor import O_CHUNK, output_packets
from test_threads_unit import CURRENT, KTHREADD, Harness, fake_kernel
from gdbstub.kernelaware.threads import KernelThreads
from test_threads_unit import LAYOUT


def monitor(h, command):
    replies = h.ask(b"qRcmd," + command.encode().hex().encode())
    replies = replies if isinstance(replies, list) else [replies]
    *out, last = replies
    assert last == b"OK" and all(p[:1] == b"O" for p in out)
    return b"".join(bytes.fromhex(p[1:].decode()) for p in out).decode()


def harness(enabled=True):
    t = fake_kernel()
    h = Harness(t)
    h.ctx.threads = KernelThreads(t, LAYOUT, enabled=enabled)
    return h


def test_output_is_chunked_into_o_packets():
    text = "x" * (O_CHUNK * 2 + 5)
    pkts = output_packets(text)
    assert len(pkts) == 3 and all(p[:1] == b"O" for p in pkts)
    assert b"".join(bytes.fromhex(p[1:].decode()) for p in pkts).decode() == text


def test_ps_marks_the_running_task_and_shows_the_threads_gdb_knows():
    h = harness()
    assert monitor(h, "ps") == (
        "  PID  THREAD  STATE            COMM\n"
        "*   0       -  R (running)      swapper\n"
        "    1       -  R (runnable)     init\n"
        "    2       -  S (sleeping)     kthreadd\n")       # gdb has not heard of them yet
    assert h.ask(b"qfThreadInfo") == b"m01,02,03"
    assert monitor(h, "ps") == (
        "  PID  THREAD  STATE            COMM\n"
        "*   0       1  R (running)      swapper\n"
        "    1       2  R (runnable)     init\n"
        "    2       3  S (sleeping)     kthreadd\n")
    h.target.write_memory(CURRENT, struct.pack("<I", KTHREADD))
    h.ctx.threads.invalidate()
    assert "*   2       3  R (running)      kthreadd" in monitor(h, "ps")


def test_ps_widens_the_state_column_for_the_longest_state():
    h = harness()
    h.ask(b"qfThreadInfo")
    h.target.write_memory(0xC1000200, struct.pack("<i", 2))     # init: TASK_UNINTERRUPTIBLE
    h.ctx.threads.invalidate()
    assert monitor(h, "ps") == (
        "  PID  THREAD  STATE               COMM\n"
        "*   0       1  R (running)         swapper\n"
        "    1       2  D (uninterruptible) init\n"
        "    2       3  S (sleeping)        kthreadd\n")


def test_ps_works_with_tasks_off_and_tasks_toggles_the_view():
    h = harness(enabled=False)
    assert h.ask(b"qfThreadInfo") == b"m01"
    assert "kthreadd" in monitor(h, "ps")
    assert monitor(h, "tasks").startswith("kernel tasks as threads: off")
    assert monitor(h, "tasks on").startswith("kernel tasks as threads: on")
    assert h.ask(b"qfThreadInfo") == b"m01,02,03"
    monitor(h, "tasks off")
    assert h.ask(b"qfThreadInfo") == b"m01"
    assert monitor(h, "tasks maybe") == (
        "monitor tasks: unexpected 'maybe' (usage: monitor tasks [on|off])\n")


def test_dmesg_reads_the_ring_in_order():
    h = harness()
    t = h.target
    # log_buf is 64 bytes at 0xC1004000; 70 bytes were logged: the oldest 6 are gone.
    logged = b"".join(b"line %02d\n" % i for i in range(9))[:70]
    ring = bytearray(64)
    for i, c in enumerate(logged):
        ring[i % 64] = c
    t.write_memory(0xC1004000, bytes(ring))
    t.write_memory(0xC1000010, struct.pack("<I", len(logged)))
    assert monitor(h, "dmesg") == logged[6:].decode() + "\n"


def test_unknown_and_target_commands():
    h = harness()
    assert monitor(h, "icount") == "icount 0\n"          # the target's own command
    assert "unknown monitor command 'bogus'" in monitor(h, "bogus")
    assert "monitor ps" in monitor(h, "help") and "monitor icount" in monitor(h, "help")


def test_words_are_checked_against_the_forms_a_command_declares():
    from gdbstub.monitor import check_words
    forms = ["monitor cpus", "monitor deadline [N|off]", "monitor translate VA",
             "monitor trace on", "monitor trace tail [N]", "monitor trace [status]"]
    for ok in ("cpus", "deadline", "deadline off", "deadline 300M", "translate 0x10",
               "trace", "trace status", "trace on", "trace tail", "trace tail x", "bogus 1 2"):
        assert check_words(forms, ok.split()) is None, ok
    assert check_words(forms, ["cpus", "garbage"]) == (
        "monitor cpus: unexpected 'garbage' (usage: monitor cpus)\n")
    assert check_words(forms, ["translate"]) == (
        "monitor translate: missing VA (usage: monitor translate VA)\n")
    assert check_words(forms, ["deadline", "off", "now"]).startswith(
        "monitor deadline: unexpected 'now' (usage: monitor deadline [N|off])")
    assert check_words(forms, ["trace", "on", "/etc/passwd"]) == (
        "monitor trace: unexpected '/etc/passwd' (usage: monitor trace on | "
        "monitor trace tail [N] | monitor trace [status])\n")
    long = check_words(forms, ["cpus", "x" * 3000])
    assert long.count("\n") == 1 and len(long) < 100 and "xxx...'" in long


def test_a_command_is_added_with_the_forms_it_takes():
    from gdbstub.monitor import MonitorRegistry
    reg = MonitorRegistry()
    with pytest.raises(ValueError, match="declare its forms"):
        reg.add("ps", lambda ctx, args: "", [])
    with pytest.raises(ValueError, match="declare its forms"):
        reg.add("ps", lambda ctx, args: "", [("monitor dmesg", "not ps")])
    reg.add("ps", lambda ctx, args: "", [("monitor ps", "tasks")])
    assert reg.help == [("monitor ps", "tasks")] and ("ps",) in reg.commands


def test_every_command_refuses_extra_words_and_runs_nothing():
    h = harness()
    h.ask(b"qfThreadInfo")
    for line in ("ps garbage", "dmesg /etc/passwd", "tasks on garbage", "help me",
                 "icount " + "x" * 3000, "info mem garbage", "trace off now"):
        out = monitor(h, line)
        assert out.startswith(f"monitor {line.split()[0]}: unexpected '") and \
            out.count("\n") == 1 and len(out) < 300, (line, out)
    assert h.ask(b"qfThreadInfo") == b"m01,02,03"      # `tasks on garbage` changed nothing
