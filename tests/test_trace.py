"""Scheduling trace: the machine's probe API (machine/machine.py add_probe),
the tracer's pure event builder (gdbstub/kernelaware/schedtrace.py), and the tracer on
the real kernel without gdb (a boot, reverse execution, restarts).  The
stub and gdb side is in test_trace_e2e.py."""
import json
import os
import re

import pytest

import trace_check
from gdbstub.kernelaware import schedtrace as st

BOOT_DONE = b"init: boot complete"


# ------------------------------------------------------------ pure builder

def rec(ic, kind, pid, comm, **kw):
    return dict(ic=ic, kind=kind, pid=pid, comm=comm, **kw)


def sw(ic, pid, comm, npid, ncomm, state="S"):
    return rec(ic, "switch", pid, comm, prev_state=state, next_pid=npid, next_comm=ncomm)


# init asks for a thread, kthreadd forks it, the new thread reports back.
HANDSHAKE = [
    rec(100, "kthread_create", 1, "init", threadfn="worker", name="w/0", esp=0xc0001f00,
        caller="boot"),
    rec(110, "wake_up_process", 1, "init", target_pid=2, target_comm="kthreadd",
        target_state="S", caller="kthread_create"),
    sw(120, 1, "init", 2, "kthreadd", "D"),
    rec(130, "create_kthread", 2, "kthreadd", create=0xc0001ec0, caller="kthreadd"),
    sw(140, 2, "kthreadd", 3, "kthreadd"),
    rec(150, "kthread", 3, "kthreadd", create=0xc0001ec0),
    rec(160, "complete", 3, "kthreadd", completion=0xc0001ecc, done=0, waiter_pid=1,
        waiter_comm="init", caller="kthread"),
    sw(170, 3, "kthreadd", 1, "init", "D"),
    rec(180, "wake_up_process", 1, "init", target_pid=3, target_comm="w/0",
        target_state="D", caller="boot"),
]


def test_timestamps_are_virtual_time_and_tids_are_pid_plus_one():
    assert st.ts_of(0) == 0 and st.ts_of(10) == 1 and st.ts_of(15) == 1.5
    assert isinstance(st.ts_of(20), int)
    assert [st.tid_of(p) for p in (0, 1, 2)] == [1, 2, 3]


def test_trace_of_a_handshake_is_valid_with_slices_instants_and_flows():
    tr = st.build_trace(HANDSHAKE, start=50, end=200, done_offset=0xc)
    assert trace_check.problems(tr) == []
    ev = tr["traceEvents"]
    xs = [(e["tid"], e["ts"], e["dur"], e["name"], e["args"]["end_state"])
          for e in ev if e["ph"] == "X"]
    assert xs == [(2, 5, 7, "init", "D"), (3, 12, 2, "kthreadd", "S"),
                  (4, 14, 3, "kthreadd", "D"), (2, 17, 3, "init", "running")]
    names = trace_check.thread_names(tr)
    assert names == {2: "init (pid 1)", 3: "kthreadd (pid 2)", 4: "kthreadd (pid 3)"}
    assert trace_check.flows(tr) == {1: [("s", 10, 2), ("t", 13, 3), ("f", 15, 4)]}
    inst = {e["name"]: e["args"] for e in ev if e["ph"] == "i"}
    assert inst["kthread_create"]["request"] == 1 and inst["kthread_create"]["name"] == "w/0"
    assert inst["complete"]["request"] == 1 and inst["complete"]["waiter"] == "init[1]"
    assert inst["create_kthread"] == {"icount": 130, "request": 1}
    assert all(e["pid"] == st.TRACE_PID for e in ev)


def test_requests_are_matched_by_stack_not_by_order():
    # two requesters; kthreadd serves the second one first (its request is
    # just below pid 7's stack pointer): the flows must follow the stacks
    recs = [
        rec(10, "kthread_create", 7, "a", threadfn="f", name="x", esp=0xc0010f00),
        sw(11, 7, "a", 8, "b", "D"),
        rec(20, "kthread_create", 8, "b", threadfn="g", name="y", esp=0xc0020f00),
        sw(21, 8, "b", 2, "kthreadd", "D"),
        rec(30, "create_kthread", 2, "kthreadd", create=0xc0020ec0),
        rec(31, "create_kthread", 2, "kthreadd", create=0xc0010ec0),
        sw(32, 2, "kthreadd", 9, "kthreadd"),
        rec(40, "kthread", 9, "kthreadd", create=0xc0010ec0),
        sw(41, 9, "kthreadd", 10, "kthreadd"),
        rec(50, "kthread", 10, "kthreadd", create=0xc0020ec0),
    ]
    assert st.link_requests(recs) == [1, None, 2, None, 2, 1, None, 1, None, 2]
    # not on any requester's stack: first come, first served (kthreadd's FIFO)
    recs[4] = rec(30, "create_kthread", 2, "kthreadd", create=0x1234)
    assert st.link_requests(recs)[4] == 1


def test_the_first_slice_starts_at_the_trace_start_and_the_last_ends_at_its_end():
    tr = st.build_trace([sw(500, 0, "swapper", 1, "init", "R")], start=100, end=900)
    xs = [(e["tid"], e["ts"], e["dur"]) for e in tr["traceEvents"] if e["ph"] == "X"]
    assert xs == [(1, 10, 40), (2, 50, 40)]
    empty = st.build_trace([], start=0, end=10)
    assert trace_check.problems(empty) == []


def test_dumps_is_deterministic_json_one_event_per_line():
    tr = st.build_trace(HANDSHAKE, 50, 200, 0xc)
    text = st.dumps(tr)
    assert json.loads(text) == json.loads(json.dumps(tr))
    assert text == st.dumps(st.build_trace(list(HANDSHAKE), 50, 200, 0xc))
    assert text.count("\n") == len(tr["traceEvents"]) + 2


def test_tail_lines_and_handshake_events():
    lines = st.tail_lines(HANDSHAKE, 3, done_offset=0xc)
    assert len(lines) == 3
    assert re.search(r"^\s+160 .* kthreadd\[3\]  complete 0x[0-9a-f]{8} -> init\[1\] "
                     r"from kthread \[request 1\]$", lines[0]), lines[0]
    assert "switch -> init[1] (leaves in state D)" in lines[1]
    assert st.tail_lines(HANDSHAKE, 0) == []
    hs = st.handshake_events(HANDSHAKE, done_offset=0xc)
    assert [(e["kind"], e["pid"], e["request"]) for e in hs] == [
        ("kthread_create", 1, 1), ("wake_up_process", 1, 1), ("create_kthread", 2, 1),
        ("kthread", 3, 1), ("complete", 3, 1)]
    assert hs[1]["target_pid"] == 2 and hs[4]["waiter_pid"] == 1


# Two CPUs: init on CPU 0 wakes w/1 on CPU 1, whose idle task (pid 0 too)
# was running there since the trace started; CPU 2 comes online at 130.
TWO_CPUS = [
    rec(100, "wake_up_process", 1, "init", cpu=0, target_pid=3, target_comm="w/1",
        target_state="S", caller="boot"),
    sw(110, 0, "swapper", 3, "w/1", "R") | {"cpu": 1},
    sw(120, 1, "init", 0, "swapper", "S") | {"cpu": 0},
    rec(130, "cpu_up", 0, "swapper", cpu=2),
    sw(140, 3, "w/1", 0, "swapper", "S") | {"cpu": 1},
]


def test_more_cpus_give_a_track_per_cpu_and_each_idle_task_its_own():
    tr = st.build_trace(TWO_CPUS, start=50, end=200, cpus=3, initial={1: (0, "swapper")})
    assert trace_check.problems(tr) == []
    ev = tr["traceEvents"]
    cpu_track = {(e["tid"] - st.CPU_TID, e["ts"], e["dur"], e["name"]) for e in ev
                 if e["ph"] == "X" and e["pid"] == st.CPU_PID}
    assert cpu_track == {(0, 5, 7, "init"), (0, 12, 8, "swapper"),
                         (1, 5, 6, "swapper"), (1, 11, 3, "w/1"), (1, 14, 6, "swapper"),
                         (2, 13, 7, "swapper")}
    tasks = sorted((e["tid"], e["ts"], e["args"]["cpu"]) for e in ev
                   if e["ph"] == "X" and e["pid"] == st.TRACE_PID)
    idle1, idle2 = st.IDLE_TID + 1, st.IDLE_TID + 2
    assert tasks == [(1, 12, 0), (2, 5, 0), (4, 11, 1), (idle1, 5, 1), (idle1, 14, 1),
                     (idle2, 13, 2)]
    names = trace_check.thread_names(tr)
    assert {t: names[t] for t in (1, idle1, idle2)} == {
        1: "swapper (pid 0, CPU 0)", idle1: "swapper (pid 0, CPU 1)",
        idle2: "swapper (pid 0, CPU 2)"}
    assert [names[st.CPU_TID + k] for k in range(3)] == ["CPU 0", "CPU 1", "CPU 2"]
    up = [e for e in ev if e.get("name") == "cpu_up"]
    assert [(e["tid"], e["ts"], e["args"]["cpu"]) for e in up] == [(idle2, 13, 2)]
    # every tid names one track across both processes (some viewers key by tid)
    assert len({e["tid"] for e in ev if e["name"] == "thread_name"}) == \
        sum(e["name"] == "thread_name" for e in ev)
    lines = st.tail_lines(TWO_CPUS, 2)
    assert "  CPU 2  swapper[0]  CPU 2 comes online" in lines[0], lines
    assert "  CPU 1  w/1[3]  switch -> swapper[0]" in lines[1], lines


def test_one_cpu_has_no_cpu_tracks_and_no_cpu_args():
    text = st.dumps(st.build_trace(HANDSHAKE, 50, 200, 0xc))
    assert '"cpu"' not in text and str(st.CPU_PID) not in text and "CPU" not in text
    assert "CPU" not in "".join(st.tail_lines(HANDSHAKE))


def test_format_name():
    strings = {0x100: "events"}
    args = {0: 0x100, 1: 0, 2: 0xFFFFFFFF}
    assert st.format_name("%s/%d", args.get, strings.get) == "events/0"
    assert st.format_name("k%d%%", lambda k: 0xFFFFFFFF, strings.get) == "k-1%"
    assert st.format_name("plain", args.get, strings.get) == "plain"
    assert st.format_name("%p", args.get, strings.get) == "%p"     # not understood: as is


# ------------------------------------------------------------- probe API

@pytest.fixture(scope="module")
def syms(kernel):
    from elftools.elf.elffile import ELFFile
    with open(kernel, "rb") as f:
        tab = ELFFile(f).get_section_by_name(".symtab")
        return {s.name: s["st_value"] for s in tab.iter_symbols() if s.name}


def _boot(m, until=BOOT_DONE, budget=5_000_000):
    while until not in m.console_output and m.icount < budget:
        m.cont(100_000)
    assert until in m.console_output


def test_probes_fire_where_breakpoints_would_stop(kernel, syms):
    from machine import Machine
    a = Machine(kernel)
    hits = []
    a.add_probe(syms["__switch_to"], lambda va, ic: hits.append((va, ic)))
    _boot(a)
    assert len(hits) >= 10 and {va for va, _ in hits} == {syms["__switch_to"]}
    b = Machine(kernel)
    b.add_breakpoint(syms["__switch_to"])
    stops = []
    while len(stops) < 10:
        s = b.cont(1_000_000)
        if s.reason == "breakpoint":
            stops.append(b.icount)
    assert [ic for _, ic in hits[:10]] == stops


def test_probe_and_breakpoint_at_one_address_record_each_instruction_once(kernel, syms):
    from machine import Machine
    m = Machine(kernel)
    addr = syms["__switch_to"]
    m.add_breakpoint(addr)
    hits = []
    m.add_probe(addr, lambda va, ic: hits.append(ic))
    stops = []
    while len(stops) < 6:
        s = m.cont(1_000_000)
        if s.reason == "breakpoint":
            stops.append(m.icount)
            assert len(hits) == len(stops) - 1     # stopped before it ran: not yet
            m.step()                               # stepping over it fires it once
            assert hits[-1] == stops[-1]
    assert hits == stops


def test_probes_are_invisible_to_the_guest_and_survive_reset(kernel, syms):
    from machine import Machine
    plain = Machine(kernel)
    _boot(plain)
    m = Machine(kernel)
    seen = []
    for name in ("__switch_to", "wake_up_process", "complete"):
        m.add_probe(syms[name], lambda va, ic: seen.append(ic))
    m.cont(plain.icount)
    assert m.console_output == plain.console_output
    assert m.read_registers(["eip", "esp", "eax"]) == plain.read_registers(["eip", "esp", "eax"])
    first = list(seen)
    m.reset()
    seen.clear()
    m.cont(plain.icount)
    assert seen == first
    for name in ("__switch_to", "wake_up_process", "complete"):
        for fn in list(m.probes.get(syms[name], ())):
            m.remove_probe(syms[name], fn)
    assert m.probes == {}
    m.reset()
    seen.clear()
    m.cont(plain.icount)
    assert seen == []


def test_a_failing_probe_is_logged_and_the_run_goes_on(kernel, syms):
    from machine import Machine
    m = Machine(kernel)

    def bad(va, ic):
        raise RuntimeError("boom")
    m.add_probe(syms["__switch_to"], bad)
    _boot(m)
    assert m.probe_errors and "boom" in m.probe_errors[-1]


# ------------------------------------------------ the tracer on the machine

def _expected_tasks(console: bytes):
    tasks = {0: "swapper", 1: "init", 2: "kthreadd"}
    for comm, pid in re.findall(rb"kthread: created (\S+) pid (\d+)", console):
        tasks[int(pid)] = comm.decode()
    return tasks


def _traced_boot(kernel, syms):
    from machine import Machine
    from machine.history import TimeMachine
    m = TimeMachine(Machine(kernel))
    m.add_breakpoint(syms["oops_test"])
    tr = st.SchedTracer(m)
    tr.start()
    stop = m.cont(5_000_000)
    assert stop.reason == "breakpoint" and BOOT_DONE in m.console_output
    return m, tr


def check_boot_trace(trace, console):
    """What every boot trace must show (also used by the gdb tests)."""
    assert trace_check.problems(trace) == []
    names = trace_check.thread_names(trace)
    tasks = _expected_tasks(console)
    assert len(tasks) >= 7
    for pid, comm in tasks.items():
        assert names.get(st.tid_of(pid)) == f"{comm} (pid {pid})", (pid, names)
        assert any(e["ph"] == "X" and e["tid"] == st.tid_of(pid)
                   for e in trace["traceEvents"]), f"{comm} never ran"
    # one flow per kthread_create: requester -> kthreadd -> the new thread, in order
    creates = [e for e in trace["traceEvents"] if e["ph"] == "i" and e["name"] == "kthread_create"]
    fl = trace_check.flows(trace)
    created = [int(p) for p in re.findall(rb"kthread: created \S+ pid (\d+)", console)]
    assert len(creates) == len(created) == len(fl)
    for e, pid in zip(creates, created):
        steps = fl[e["args"]["request"]]
        assert [s[0] for s in steps] == ["s", "t", "f"]
        assert steps[0][1] < steps[1][1] < steps[2][1]
        assert steps[0][2] == e["tid"]
        assert steps[1][2] == st.tid_of(2)                  # kthreadd
        assert steps[2][2] == st.tid_of(pid)                # the new thread
        assert names[st.tid_of(pid)].startswith(e["args"]["name"] + " ")


def test_a_traced_boot_shows_every_task_and_every_handshake(kernel, syms):
    m, tr = _traced_boot(kernel, syms)
    trace = tr.trace()
    check_boot_trace(trace, bytes(m.console_output))
    assert m.probe_errors == [] and tr.unreadable == 0
    # each request wakes kthreadd (pid 2) from kthread_create
    wakes = [e["args"] for e in trace["traceEvents"] if e["name"] == "wake_up_process"
             and e["args"]["caller"] == "kthread_create"]
    n = len(re.findall(rb"kthread: created", bytes(m.console_output)))
    assert [w["target_pid"] for w in wakes] == [2] * n
    assert [w["request"] for w in wakes] == list(range(1, n + 1))
    hs = tr.handshake_events()
    assert [e["kind"] for e in hs[:5]] == ["kthread_create", "wake_up_process",
                                           "create_kthread", "kthread", "complete"]


def test_reverse_execution_does_not_record_twice(kernel, syms):
    m, tr = _traced_boot(kernel, syms)
    want = st.dumps(tr.trace())
    n = len(tr.records)
    m.add_breakpoint(syms["create_kthread"])
    stop = m.reverse_cont()
    assert stop.reason == "breakpoint"
    assert len(tr.records) == n and tr.dropped > 0          # replays fired the probes again
    assert st.dumps(tr.trace()) == want                     # the trace still ends at the frontier
    m.remove_breakpoint(syms["create_kthread"])
    stop = m.cont(5_000_000)                                # forward again: the same future
    assert stop.reason == "breakpoint" and m.read_register("eip") == syms["oops_test"]
    assert st.dumps(tr.trace()) == want


def test_a_changed_past_is_recorded_again_and_a_reset_starts_over(kernel, syms):
    m, tr = _traced_boot(kernel, syms)
    for _ in range(3):
        m.reverse_step()
    t = m.icount
    m.step()                                   # forward from the past: rewind to t
    assert all(r["ic"] < t + 1 for r in tr.records)
    m.reset()
    assert tr.records == [] and tr.start_ic == 0 and tr.recording
    m.cont(500_000)
    assert tr.records and tr.records[0]["kind"] == "switch"


def test_trace_files(kernel, syms, tmp_path):
    from machine import Machine
    m = Machine(kernel)
    tr = st.SchedTracer(m)
    path = tmp_path / "t.json"
    tr.start(str(path))
    assert json.loads(path.read_text())["traceEvents"]       # written at once: checks the path
    _boot(m)
    assert tr.stop() == str(path)
    trace = trace_check.load(path)
    assert trace_check.problems(trace) == []
    assert tr.stop() is None                                   # already stopped
    with pytest.raises(st.TraceError, match="no directory"):
        tr.start(str(tmp_path / "nowhere" / "t.json"))
    with pytest.raises(st.TraceError, match="directory"):
        tr.start(str(tmp_path))
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        with pytest.raises(st.TraceError, match="permission denied"):
            tr.start(str(ro / "t.json"))
    assert "trace off" in tr.status()


def test_a_long_trace_keeps_the_newest_events(kernel, syms, monkeypatch):
    monkeypatch.setattr(st, "MAX_RECORDS", 20)
    m, tr = _traced_boot(kernel, syms)
    assert len(tr.records) <= 20 and tr.discarded > 0
    assert tr.start_ic == tr.records[0]["ic"] > 0
    assert trace_check.problems(tr.trace()) == []
    assert f"the oldest {tr.discarded} events were dropped" in tr.status()


def test_record_boot_for_diagrams(kernel):
    tr = st.record_boot(kernel)
    assert not tr.recording and tr.records
    hs = tr.handshake_events()
    creates = [e for e in hs if e["kind"] == "kthread_create"]
    assert [e["name"] for e in creates][:2] == ["ksoftirqd/0", "events/0"]
    assert all(e["pid"] == 1 and e["comm"] == "init" for e in creates)
    assert [e["request"] for e in hs if e["kind"] == "create_kthread"] == \
        [e["request"] for e in creates]
    assert st.dumps(tr.trace()) == st.dumps(st.record_boot(kernel).trace())
    with pytest.raises(st.TraceError, match="no function"):
        st.record_boot(kernel, stop_at="no_such_function")


def test_a_two_cpu_boot_puts_each_cpus_kthreads_on_its_track(kernel):
    """--cpus 2: the kthreads bound to CPU 1 run on CPU 1's track only, their
    slices say CPU 1, and CPU 1's track starts where the AP came online."""
    tr = st.record_boot(kernel, cpus=2)
    trace = tr.trace()
    assert trace_check.problems(trace) == [] and tr.unreadable == 0
    ev = trace["traceEvents"]
    on = {k: {e["name"] for e in ev if e["ph"] == "X" and e["pid"] == st.CPU_PID
              and e["tid"] == st.CPU_TID + k} for k in (0, 1)}
    for k in (0, 1):
        for name in ("migration", "ksoftirqd", "events"):
            assert f"{name}/{k}" in on[k] and f"{name}/{k}" not in on[1 - k], on
    assert {"init", "kthreadd"} <= on[0] and not {"init", "kthreadd"} & on[1]
    ks1 = [e["args"]["cpu"] for e in ev if e["ph"] == "X" and e["name"] == "ksoftirqd/1"]
    assert ks1 and set(ks1) == {1}
    up = [e for e in ev if e.get("name") == "cpu_up"]
    first1 = min(e["ts"] for e in ev if e["ph"] == "X" and e["tid"] == st.CPU_TID + 1)
    assert [(e["args"]["cpu"], e["ts"]) for e in up] == [(1, first1)]
    assert st.dumps(trace) == st.dumps(st.record_boot(kernel, cpus=2).trace())
