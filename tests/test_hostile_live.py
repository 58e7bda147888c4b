"""A hostile client against one real kthread-stub (real machine and kernel,
TCP on 127.0.0.1 only): every case answers with an error or a clean
refusal, the stub keeps serving, and afterwards the seed session (real gdb,
gdb_scripts/kthreadd.gdb) runs on the same stub.  Bounded: a few thousand
packets and 500 connections in all.

The promises tested here are README's "Security and limits" section; the
offline half (packet layer, exception injection) is tests/test_hostile_units.py.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys

import pytest

from gdbharness import match_in_order
from gdbstub.harness import session
from gdbstub.harness.session import StubProcess, stub_command
from gdbstub.dispatch import PACKET_SIZE
from gdbstub.rsp.packet import MAX_FRAME, Nak, Packet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import soak  # noqa: E402
from test_e2e_seed import SEED  # noqa: E402
from test_robust_live import _symbol, run_seed_session  # noqa: E402

pytestmark = pytest.mark.e2e
frame = soak.frame


@pytest.fixture(scope="module")
def stub(kernel, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    # every client detaches and the next expects the machine where it was
    with StubProcess(kernel, ("--trace-dir", str(folder), "--halt-on-detach")) as s:
        s.folder = folder
        yield s


@pytest.fixture
def c(stub):
    """A raw client; it detaches at the end (the machine stays where it is)."""
    client = soak.Client(stub.address())
    yield client
    try:
        client.ask(b"D")
    except (ConnectionError, OSError):
        pass
    client.close()
    assert stub.alive()


def next_reply(c):
    """The next event that is not an ack: a Packet, or Nak for a refused frame."""
    while True:
        ev = c.next_event()
        if isinstance(ev, (Packet, Nak)):
            return ev


def monitor(c, line: str) -> str:
    c.send(frame(b"qRcmd," + line.encode().hex().encode()))
    text = b""
    while True:
        ev = next_reply(c)
        if ev.data == b"OK":
            return text.decode()
        assert ev.data.startswith(b"O"), ev
        text += bytes.fromhex(ev.data[1:].decode())


def sym(kernel, name):
    return _symbol(kernel, name)


def run_to(c, kernel, name):
    """From the first instruction (a restart) to the function's first one."""
    assert c.ask(b"!") == b"OK" and c.ask(b"vRun;").startswith(b"T05")
    addr = sym(kernel, name)
    assert c.ask(b"Z0,%x,1" % addr) == b"OK"
    reply = c.ask(b"c")
    assert reply.startswith(b"T05"), reply
    assert c.ask(b"z0,%x,1" % addr) == b"OK"


# ------------------------------------------------------------ the packet layer

def test_frame_over_the_limit_in_one_read_is_refused(c):
    regs = c.ask(b"g")
    body = b"X1000,0:" + b"a" * (MAX_FRAME + 13000)
    c.send(frame(body) + frame(b"g"))        # one sendall: the decoder's fast path
    assert isinstance(next_reply(c), Nak)
    assert next_reply(c).data == regs


def test_run_length_bomb_is_refused_before_expanding(c):
    c.send(frame(b"M1000,1:" + b"0*~" * (MAX_FRAME // 3 - 10)))
    assert isinstance(next_reply(c), Nak)
    assert c.ask(b"qAttached") == b"1"


def test_unmatched_escape_writes_nothing(c):
    before = c.ask(b"m1000,1")
    c.send(frame(b"X1000,1:}"))
    assert isinstance(next_reply(c), Nak)
    assert c.ask(b"m1000,1") == before


@pytest.mark.parametrize("good_checksum", [True, False])
def test_ctrl_c_byte_inside_a_packet(c, good_checksum):
    body = b"m0,\x034"
    sent = body if good_checksum else b"m0,4"      # checksum without the 0x03
    c.send(b"$" + body + b"#%02x" % (sum(sent) & 0xFF))
    ev = next_reply(c)
    assert (ev.data == b"E01") if good_checksum else isinstance(ev, Nak)
    assert c.ask(b"qAttached") == b"1"


def test_slowloris_one_byte_at_a_time_and_a_stalled_client(stub, c):
    for b in frame(b"qAttached"):
        c.send(bytes([b]))
    assert next_reply(c).data == b"1"
    c.ask(b"D")
    c.close()
    stalled = soak.Client(stub.address())
    stalled.send(b"$m0,4")                    # and nothing more
    stalled.close()
    late = soak.Client(stub.address())        # the next client is served
    assert late.ask(b"qAttached") == b"1"
    late.ask(b"D")
    late.close()


# ------------------------------------------------------------- bad arguments

def test_wrapping_and_huge_address_ranges(c):
    for p in (b"mffffffff,10", b"mfffffff0,20", b"m0,ffffffff", b"mffffffff,ffffffff"):
        r = c.ask(p)
        assert r.startswith(b"E") or len(r) <= PACKET_SIZE, (p, r[:40])
    for p in (b"Mfffffffe,4:00000000", b"Xffffffff,2:ab", b"Mffffffff,ffffffff:00"):
        assert c.ask(p).startswith(b"E"), p
    for p in (b"Z2,fffffffe,4", b"Z3,ffffffff,2"):
        assert c.ask(p) == b"E22", p


def test_registers_with_wrong_lengths_and_numbers(c):
    regs = c.ask(b"g")
    for p in (b"G" + b"00" * 3, b"G" + b"00" * 193, b"Gzz", b"G0"):
        assert c.ask(p).startswith(b"E"), p
    for p in (b"P99=00000000", b"Pffffffffffffffff=00000000", b"P" + b"f" * 40 + b"=00",
              b"P0=00", b"P0=0000000000", b"P-1=00000000", b"P0=zzzzzzzz", b"P0"):
        assert c.ask(p).startswith(b"E"), p
    for p in (b"p99", b"pffffffffffffffff", b"p-1", b"p"):
        assert c.ask(p).startswith(b"E"), p
    assert c.ask(b"g") == regs


def test_vcont_with_nonsense_thread_ids(c):
    for p in (b"vCont;s:ffffffff", b"vCont;c:7fffffff", b"vCont;s:p1.ffff",
              b"vCont;s:-2", b"vCont;z", b"vCont;s:", b"vCont;", b"vCont;c:p-1.-2",
              b"Hgffffffff", b"Hc7fffffff", b"T0", b"Tffffffff", b"qThreadExtraInfo,ffffffff"):
        r = c.ask(p)
        assert r == b"" or r.startswith(b"E"), (p, r)
    assert c.ask(b"?").startswith(b"T05")         # nothing was left running


def test_qxfer_with_huge_offsets_and_lengths(c):
    for p in (b"qXfer:features:read:target.xml:ffffffffffff,ffff",
              b"qXfer:features:read:target.xml:0,ffffffff"):
        r = c.ask(p)
        assert r[:1] in (b"l", b"m") and len(r) <= PACKET_SIZE, (p, r[:40])
    assert c.ask(b"qXfer:features:read:target.xml:ffffffffffff,ffff") == b"l"


def test_vrun_needs_extended_mode_and_proper_arguments(c):
    assert c.ask(b"vRun;") == b""                 # not in extended mode: not known
    assert c.ask(b"!") == b"OK"
    assert c.ask(b"vRun;zz").startswith(b"E")     # arguments are hex
    assert c.ask(b"vRun") == b""                  # no ';': not a vRun packet
    assert c.ask(b"vRun;").startswith(b"T05")


def test_packets_while_running_get_no_second_stop_reply(c, kernel):
    """vRun or monitor reset sent while the machine runs: refused, and the
    one stop reply is the one for the resume (after Ctrl-C)."""
    c.send(frame(b"c"))
    for p in (b"vRun;", b"qRcmd," + b"reset".hex().encode(), b"g"):
        c.send(frame(p))
        assert next_reply(c).data.startswith(b"E."), p
    c.send(b"\x03")
    assert next_reply(c).data.startswith(b"T02")
    c.send(frame(b"?"))
    assert next_reply(c).data.startswith(b"T02")   # nothing else was pending


# ---------------------------------------------------------------- limits

def test_a_256_MiB_watchpoint_is_refused_at_once(c):
    assert c.ask(b"Z2,c0000000,10000000") == b"E22"
    assert c.ask(b"Z2,c1000000,1001") == b"E22"
    assert c.ask(b"Z2,c1000000,4") == b"OK" and c.ask(b"z2,c1000000,4") == b"OK"


def test_breakpoint_limit_and_stepping_a_sleeping_task_with_the_table_full(c, kernel):
    """The 128th breakpoint was 'Cannot access memory'; stepping a task not
    on the CPU with the table full killed the stub (uncaught TargetError)."""
    run_to(c, kernel, "kthreadd")                  # pid 2 runs; init (pid 1) sleeps
    assert "kernel tasks as threads: on" in monitor(c, "tasks on")
    xml = c.ask(b"qXfer:threads:read::0,8000").decode()   # the client hears of the threads
    init = re.search(r'<thread id="([0-9a-f]+)"[^>]*>pid 1,', xml).group(1)
    for i in range(127):
        assert c.ask(b"Z0,%x,1" % (0x1000 + i)) == b"OK"
    assert c.ask(b"Z0,2000,1") == b"E.breakpoint limit reached: at most 127 breakpoints"
    c.send(frame(b"vCont;s:%s;c" % init.encode()))
    assert next_reply(c).data.startswith(b"T05")
    r = c.ask(b"qXfer:threads:read::0,ffffffff")
    assert r[:1] in (b"l", b"m") and len(r) <= PACKET_SIZE and b'id="ffffffff"' not in r
    for i in range(127):
        assert c.ask(b"z0,%x,1" % (0x1000 + i)) == b"OK"
    monitor(c, "tasks off")


def test_a_task_with_a_negative_pid_is_no_thread_id(c, kernel):
    """pid -2 made thread id -1 (RSP's 'all threads')."""
    from gdbstub.kernelaware.oskernel import KernelLayout
    layout = KernelLayout.from_elf(os.path.join(ROOT, kernel))
    task = int.from_bytes(bytes.fromhex(c.ask(b"m%x,4" % sym(kernel, "kthreadd_task")).decode()),
                          "little")
    pid_at = task + layout.task["pid"]
    old = c.ask(b"m%x,4" % pid_at)
    assert c.ask(b"M%x,4:feffffff" % pid_at) == b"OK"         # kthreadd's pid = -2
    try:
        monitor(c, "tasks on")
        ids = c.ask(b"qfThreadInfo")[1:].split(b",")
        assert ids and not {b"ffffffff", b"-1", b"00", b"0"} & set(ids), ids
        assert b'id="ffffffff"' not in c.ask(b"qXfer:threads:read::0,8000")
    finally:
        assert c.ask(b"M%x,4:%s" % (pid_at, old)) == b"OK"
        monitor(c, "tasks off")


def test_a_segment_register_write_with_the_gdt_unmapped(c, kernel):
    """P22 (cr3) = garbage, then Pc (ds): the stub died with SIGSEGV.  Now the
    descriptor is read with a debug read; unreadable: E22, ds unchanged."""
    ds, cr3 = c.ask(b"pc"), c.ask(b"p22")
    assert c.ask(b"P22=00000010") == b"OK"
    assert c.ask(b"Pc=68000000") == b"E22"
    assert c.ask(b"P22=" + cr3) == b"OK"
    assert c.ask(b"pc") == ds
    assert c.ask(b"Pc=" + ds) == b"OK"


def test_monitor_typos_are_one_clear_line(c, stub):
    for line, words in [("translate kthreadd", "give one virtual address"),
                        ("translate -1", "give one virtual address"),
                        ("translate 0x100000000", "give one virtual address"),
                        ("deadline infM", "bad instruction count 'infM'"),
                        ("deadline 1e400K", "bad instruction count"),
                        ("trace on /tmp/hostile-trace.json",
                         "monitor trace: unexpected '/tmp/hostile-trace.json'")]:
        out = monitor(c, line)
        assert words in out and out.count("\n") == 1, (line, out)
    assert "0x-" not in monitor(c, "translate 0xc1000000")
    assert not os.path.exists("/tmp/hostile-trace.json")
    assert b"Traceback" not in stub.output()


HOSTILE = ("garbage", "x" * 3000, "/etc/passwd")
SAMPLE = {"VA": "0xc1000000", "N": "5"}     # a value each placeholder takes


def test_every_monitor_command_refuses_words_it_does_not_take(c, stub):
    """`monitor cpus garbage` printed the CPU list: now each command, with a
    hostile word after its name and after each complete form it declares in
    `monitor help`, gets one line saying which word and the forms, runs
    nothing, and the stub keeps serving."""
    forms = [re.match(r"monitor (\S+(?: \S+)*?)(?:  |$)", line)[1]
             for line in monitor(c, "help").splitlines() if line.startswith("monitor ")]
    assert len(forms) >= 19 and "cpus" in forms and "trace tail [N]" in forms
    before = (monitor(c, "icount"), monitor(c, "trace status"), monitor(c, "deadline"),
              c.ask(b"qfThreadInfo"))
    for form in forms:
        words = form.split()
        full = " ".join(SAMPLE.get(w.strip("[]").split("|")[0], w.strip("[]").split("|")[0])
                        for w in words)
        for bad in HOSTILE:
            for line in ({words[0] + " " + bad, full + " " + bad} if form != "help" else
                         {"help " + bad}):
                out = monitor(c, line)
                assert out.count("\n") == 1 and len(out) < 400, (line[:60], out[:300])
                assert out.startswith("monitor ") or "bad instruction count" in out, (line[:60], out)
            out = monitor(c, full + " " + bad)
            assert out.startswith(f"monitor {words[0]}: unexpected '{bad[:10]}"), (form, out)
    assert (monitor(c, "icount"), monitor(c, "trace status"), monitor(c, "deadline"),
            c.ask(b"qfThreadInfo")) == before
    assert c.ask(b"?")[:1] == b"T" and b"Traceback" not in stub.output()


def test_trace_files_are_named_by_the_stub_and_never_follow_a_link(c, stub):
    out = monitor(c, "trace on")
    made = re.search(r"writing (\S+) ", out).group(1)
    assert os.path.dirname(made) == str(stub.folder)
    # a link planted where the stub will rename its file: replaced, not followed
    victim = stub.folder / "victim"
    victim.write_text("keep")
    os.unlink(made)
    os.symlink(victim, made)
    assert "trace off" in monitor(c, "trace off")
    assert victim.read_text() == "keep" and not os.path.islink(made)
    json.loads(open(made).read())


# ----------------------------------------------------------- connections

def test_500_connect_disconnect_cycles_while_running(stub):
    for i in range(500):
        cl = soak.Client(stub.address())
        cl.send(frame(b"c"))          # running; then gone
        if i % 2:
            cl.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        cl.close()
    cl = soak.Client(stub.address())
    assert cl.ask(b"?")[:1] == b"T"
    cl.ask(b"D")
    cl.close()
    out = stub.output().decode(errors="replace")
    assert "refused a second gdb" not in out and "Traceback" not in out


def test_client_killed_mid_continue_then_gdb_continues(stub, kernel, gdb):
    cl = soak.Client(stub.address())
    assert cl.ask(b"!") == b"OK" and cl.ask(b"vRun;").startswith(b"T05")   # back to the entry
    cl.send(frame(b"c"))
    cl.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    cl.close()                                        # killed: a reset, no detach
    text = subprocess.run(session.gdb_command(kernel, stub.address(), commands=[
        "break kthreadd", "continue", "bt 1"]), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, cwd=ROOT, timeout=120).stdout
    assert "Breakpoint 1, kthreadd" in text, text


def test_the_seed_session_still_runs_on_the_same_stub(stub, kernel, gdb):
    cl = soak.Client(stub.address())
    assert cl.ask(b"!") == b"OK" and cl.ask(b"vRun;").startswith(b"T05")
    cl.ask(b"D")
    cl.close()
    match_in_order(SEED, run_seed_session(kernel, stub))
    assert stub.alive()
    assert b"Traceback" not in stub.output()


# ------------------------------------------- the host side: files, signals, pipes

def _listening(proc):
    """Read the stub's stderr up to its Listening line; returns the port."""
    seen = b""
    for line in iter(proc.stderr.readline, b""):
        seen += line
        m = re.search(rb"Listening on [\d.]+:(\d+)", line)
        if m:
            return int(m.group(1))
    raise AssertionError(seen.decode(errors="replace"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signals_take_the_clean_exit(kernel, tmp_path, sig):
    """SIGTERM (docker stop, systemd) and SIGHUP as SIGINT: the trace and the
    packet log are complete, the port is free again, exit status 128+N."""
    trace, log = tmp_path / "t.json", tmp_path / "rsp.log"
    with StubProcess(kernel, ["--trace", str(trace), "--debug-rsp", str(log)]) as stub:
        port = stub.port
        cl = soak.Client(stub.address())
        assert cl.ask(b"Z0,%x,1" % sym(kernel, "kthreadd")) == b"OK"
        assert cl.ask(b"c").startswith(b"T05")      # a boot's worth of trace to write
        assert monitor(cl, "icount").startswith("icount")
        cl.send(frame(b"vCont;c"))                  # running when the signal comes
        cl.send(frame(b"qAttached"))                # answered (E: running) and logged
        assert next_reply(cl).data.startswith(b"E.")
        stub.proc.send_signal(sig)
        assert stub.proc.wait(timeout=60) == 128 + sig
        cl.close()
    err = stub.stderr.decode()
    assert "Traceback" not in err and "trace not saved" not in err, err
    events = json.loads(trace.read_text())["traceEvents"]
    assert any(e.get("name") == "kthread_create" for e in events)
    assert 'getpkt ("qAttached");' in log.read_text()
    with socket.socket() as s:                      # nobody listens on the port any more
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as the stub binds
        s.bind(("127.0.0.1", port))
        s.listen(1)


def test_closed_stdout_and_stderr_pipes_neither_stop_the_machine_nor_the_stub(kernel):
    """`kthread-stub | head`: once the reader is gone, console output and
    messages are dropped; the kernel boots and gdb connections work."""
    # Not StubProcess: this test closes the stub's pipes, which StubProcess
    # reads all along by design.
    proc = subprocess.Popen(stub_command(kernel, ["--port", "0"]), cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        port = _listening(proc)
        proc.stdout.close()
        proc.stderr.close()
        cl = soak.Client(f"127.0.0.1:{port}")
        assert cl.ask(b"Z0,%x,1" % sym(kernel, "oops_test")) == b"OK"
        assert cl.ask(b"c").startswith(b"T05")      # the whole boot's console printed
        cl.ask(b"D")
        cl.close()
        cl = soak.Client(f"127.0.0.1:{port}")       # 'gdb connected' goes nowhere too
        assert "give one virtual address" in monitor(cl, "translate kthreadd")
        assert "init: boot complete" in monitor(cl, "console")
        cl.ask(b"D")
        cl.close()
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_debug_rsp_never_follows_a_planted_link(kernel, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "rsp.log").symlink_to(victim)
    log = str(tmp_path / "rsp.log")
    r = subprocess.run(stub_command(kernel, ["--port", "0", "--debug-rsp", log]),
                       cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "symbolic link" in r.stderr and victim.read_text() == "keep"


def test_a_trace_folder_gone_leaves_the_trace_off(kernel, tmp_path):
    folder = tmp_path / "traces"
    folder.mkdir()
    with StubProcess(kernel, ("--trace-dir", str(folder))) as s:
        cl = soak.Client(s.address())
        folder.rmdir()
        out = monitor(cl, "trace on")
        assert out.startswith("monitor trace: cannot write in") and out.count("\n") == 1, out
        assert monitor(cl, "trace status").startswith("trace off")
        cl.ask(b"D")
        cl.close()
        assert "trace not saved" not in s.output().decode()


def test_overlapping_load_segments_are_refused(kernel, tmp_path):
    from elftools.elf.elffile import ELFFile
    data = bytearray(open(os.path.join(ROOT, kernel), "rb").read())
    with open(os.path.join(ROOT, kernel), "rb") as f:
        elf = ELFFile(f)
        loads = [i for i, seg in enumerate(elf.iter_segments()) if seg["p_type"] == "PT_LOAD"]
        phoff, phentsize = elf["e_phoff"], elf["e_phentsize"]
        first = elf.get_segment(loads[0])["p_paddr"]
    assert len(loads) >= 2
    # the second PT_LOAD's p_paddr (offset 12 in an Elf32_Phdr) onto the first's
    at = phoff + loads[1] * phentsize + 12
    data[at:at + 4] = first.to_bytes(4, "little")
    bad = tmp_path / "vmlinux"
    bad.write_bytes(bytes(data))
    r = subprocess.run(stub_command(str(bad), ["--port", "0"]), cwd=ROOT, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "overlap" in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_session_reads_the_stub_stderr_all_along(kernel, gdb):
    """The packet log on the stub's stderr (hundreds of KiB) used to fill the
    pipe that gdbstub.harness.session read only after gdb exited: gdb hung."""
    text, err = session.run(commands=["x/32768xw 0x100000", "p $pc"], kernel=kernel,
                            stub_args=["--debug-rsp", "-"], timeout=120)
    assert "$1 = " in text and len(err) > 1 << 16 and "getpkt" in err


def _rss_peak(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1)) << 10


def test_history_memory_stays_within_history_mem(kernel):
    """Single steps (vCont;r0,ffffffff: 200,000 per packet) and X writes
    (their payloads) count against --history-mem and are trimmed; the stub's
    peak RSS grows by no more than the limit (plus slack for Python)."""
    limit = 32 << 20
    with StubProcess(kernel, ("--history-mem", "32M")) as s:
        cl = soak.Client(s.address(), timeout=300)
        assert cl.ask(b"Z0,%x,1" % sym(kernel, "kthreadd")) == b"OK"
        assert cl.ask(b"c").startswith(b"T05")
        assert cl.ask(b"z0,%x,1" % sym(kernel, "kthreadd")) == b"OK"
        base = _rss_peak(s.proc.pid)
        chunk = bytes(range(256)) * 128                  # 32 KiB, no byte to escape
        chunk = chunk.replace(b"}", b"a").replace(b"#", b"a").replace(b"$", b"a").replace(b"*", b"a")
        for i in range(128 * 32):                        # 128 MiB of writes while stopped
            addr = 0xC7000000 + (i % 256) * len(chunk)    # 8 MiB of free RAM, 16 times over
            assert cl.ask(b"X%x,%x:" % (addr, len(chunk)) + chunk) == b"OK", hex(addr)
        for _ in range(2):
            assert cl.ask(b"vCont;r0,ffffffff")[:1] == b"T"   # 200,000 single steps each
        info = monitor(cl, "history")
        used = float(re.search(r"([\d.]+) MiB \(limit", info).group(1))
        assert used <= 32, info
        assert cl.ask(b"bs")[:1] == b"T"                  # reverse still works
        grown = _rss_peak(s.proc.pid) - base
        print(f"{info.strip()}; peak RSS grew {grown >> 20} MiB (limit 32 MiB)")
        # slack: the guest RAM written and its shadow copy (16 MiB), Python's heap
        assert grown <= limit + (64 << 20), (grown >> 20, info)
        cl.ask(b"D")
        cl.close()


def test_a_client_that_never_reads_is_dropped_and_signals_still_work(kernel):
    """Replies nobody reads fill the socket buffers: the stub gives up on
    that client after SEND_TIMEOUT (it would block writing: no signal, no
    other client), serves the next one, and exits on SIGTERM."""
    from gdbstub.server import SEND_TIMEOUT
    with StubProcess(kernel) as s:
        stalled = soak.Client(s.address())
        stalled.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.send(frame(b"m0,8000") * 2000)          # 128 MiB of replies, never read
        s.wait_for(b"session ended (connection closed)", "stderr", timeout=SEND_TIMEOUT + 60)
        cl = soak.Client(s.address())
        assert cl.ask(b"qAttached") == b"1"
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(timeout=60) == 128 + signal.SIGTERM
        stalled.close()
        cl.close()
