"""Kernel tasks as threads, without gdb or unicorn: the DWARF layout reader on the
real vmlinux (checked against gdb's own idea of the offsets), the task-list
walker and the thread model over a fake kernel memory, and the thread packets
through a Session."""

import shutil
import struct
import subprocess

import pytest

from gdbstub.fake import FakeTarget
from gdbstub.kernelaware.oskernel import KernelLayout, LayoutError, TaskWalker
from gdbstub.rsp.packet import Decoder, Packet, encode_packet
from gdbstub.rspsession import Session
from gdbstub.server import make_context, make_dispatcher
from gdbstub.target import TargetError, TargetRegisterError
from gdbstub.kernelaware.monitor import install as install_kernel_monitor
from gdbstub.kernelaware.schedtrace import TraceSlot
from gdbstub.kernelaware.threads import KernelThreads, make_thread_model
from gdbstub.threadmodel import ThreadNotRunning

# ---------------------------------------------------------------- a fake kernel

CURRENT = 0xC1000000
INIT_TASK = 0xC1000100
INIT = 0xC1000200
KTHREADD = 0xC1000300
RET_FROM_FORK = 0xC1000F00
RESUME = 0xC1000500          # "label 1 in switch_to"

LAYOUT = KernelLayout(
    task_size=64,
    task={"state": 0, "pid": 4, "comm": 8, "tasks": 24, "thread": 32, "exit_state": 40},
    comm_len=16, list_next=0, thread_sp=32, thread_ip=36,
    symbols={"init_task": (INIT_TASK, 64), "current_task": (CURRENT, 4),
             "ret_from_fork": (RET_FROM_FORK, 7), "log_buf": (0xC1004000, 64),
             "log_end": (0xC1000010, 4)},
)


def put_task(t, addr, pid, comm, state, nxt, sp=0, ip=0, exit_state=0):
    t.write_memory(addr, struct.pack("<ii", state, pid))
    t.write_memory(addr + 8, comm.encode().ljust(16, b"\0"))
    t.write_memory(addr + 24, struct.pack("<II", nxt, 0))
    t.write_memory(addr + 32, struct.pack("<IIi", sp, ip, exit_state))


def fake_kernel(current=INIT_TASK):
    """swapper (pid 0) running, init (pid 1) never ran, kthreadd (pid 2) asleep."""
    t = FakeTarget()
    put_task(t, INIT_TASK, 0, "swapper", 0, INIT + 24)
    put_task(t, INIT, 1, "init", 0, KTHREADD + 24, sp=0xC1003000, ip=RET_FROM_FORK)
    put_task(t, KTHREADD, 2, "kthreadd", 1, INIT_TASK + 24, sp=0xC1002000, ip=RESUME)
    t.write_memory(0xC1002000, struct.pack("<II", 0xC1002020, 0x246))  # saved ebp, eflags
    t.write_memory(CURRENT, struct.pack("<I", current))
    return t


def test_walker_lists_tasks_in_list_order():
    w = TaskWalker(LAYOUT, fake_kernel().read_memory)
    tasks = w.tasks()
    assert [(t.pid, t.comm, t.state) for t in tasks] == [(0, "swapper", 0), (1, "init", 0),
                                                           (2, "kthreadd", 1)]
    assert tasks[2].sp == 0xC1002000 and tasks[2].ip == RESUME
    assert w.current_task() == INIT_TASK


def test_walker_refuses_a_cycle_that_misses_the_head():
    t = fake_kernel()
    t.write_memory(KTHREADD + 24, struct.pack("<I", INIT + 24))  # kthreadd -> init -> kthreadd ...
    assert TaskWalker(LAYOUT, t.read_memory).tasks() is None


def test_walker_refuses_unreadable_and_null_links():
    t = fake_kernel()
    t.write_memory(INIT + 24, struct.pack("<I", 0xDEAD0000))
    assert TaskWalker(LAYOUT, t.read_memory).tasks() is None
    t.write_memory(INIT + 24, struct.pack("<I", 0))
    assert TaskWalker(LAYOUT, t.read_memory).tasks() is None


def test_walker_before_the_kernel_is_mapped():
    """At the reset vector the kernel's addresses are not readable: no tasks."""
    t = FakeTarget(regions=((0x1000, 0x10000),))
    w = TaskWalker(LAYOUT, t.read_memory)
    assert w.current_task() is None and w.tasks() is None


def test_state_names():
    tasks = TaskWalker(LAYOUT, fake_kernel().read_memory).tasks()
    assert tasks[0].state_name(running=True) == "running"
    assert tasks[1].state_name(running=False) == "runnable"
    assert tasks[2].state_name(running=False) == "sleeping"
    t = fake_kernel()
    put_task(t, KTHREADD, 2, "kthreadd", 64, INIT_TASK + 24, exit_state=16)
    assert TaskWalker(LAYOUT, t.read_memory).tasks()[2].state_name(False) == "zombie"


# ------------------------------------------------------------ the thread model

@pytest.fixture
def model():
    t = fake_kernel()
    t.regs.update(eip=0xC1000400, esp=0xC1001F00, ebp=0xC1001F10, eax=7)
    m = KernelThreads(t, LAYOUT)
    assert m.thread_ids() == [1, 2, 3]      # gdb lists the threads: ids in list order
    return m


def test_thread_ids_in_list_order(model):
    assert model.current() == 1
    assert model.is_alive(3) and not model.is_alive(4) and not model.is_alive(0)
    assert model.extra_info(3) == "kthreadd (pid 2, sleeping)"
    assert model.extra_info(1) == "swapper (pid 0, running)"
    assert model.thread_name(2) == "init"


def test_running_task_has_the_cpu_registers(model):
    assert model.read_register(1, "eip") == 0xC1000400
    assert model.read_register(1, "eax") == 7


def test_sleeping_task_registers_come_from_switch_to(model):
    assert model.read_register(3, "eip") == RESUME
    assert model.read_register(3, "esp") == 0xC1002000
    assert model.read_register(3, "ebp") == 0xC1002020       # the word at thread.sp
    assert model.read_register(3, "eflags") == 0x246         # the word above it
    assert model.read_register(3, "cs") == model.target.read_register("cs")
    for name in ("eax", "ebx", "esi", "edi", "st0"):
        with pytest.raises(TargetRegisterError):
            model.read_register(3, name)


def test_task_that_never_ran_starts_at_ret_from_fork(model):
    assert model.read_register(2, "eip") == RET_FROM_FORK
    assert model.read_register(2, "esp") == 0xC1003000
    with pytest.raises(TargetRegisterError):
        model.read_register(2, "ebp")


def test_register_writes_to_a_sleeping_task_are_refused(model):
    with pytest.raises(ThreadNotRunning, match="not running"):
        model.write_register(3, "eax", 1)
    model.write_register(1, "eax", 9)
    assert model.target.read_register("eax") == 9


def test_current_task_follows_memory(model):
    model.target.write_memory(CURRENT, struct.pack("<I", KTHREADD))
    model.invalidate()
    assert model.current() == 3
    assert model.read_register(3, "eax") == 7      # now the CPU's
    assert model.read_register(1, "eip") == 0      # swapper's thread.ip (never switched out here)


def test_ids_follow_the_order_gdb_hears_of_tasks():
    """A stop reply naming a task gdb never saw listed gives it the next id,
    as gdb gives it the next number; the older task listed after it comes
    next: `[Switching to Thread N]` and `Thread N "comm" hit` name one N."""
    t = fake_kernel()
    m = KernelThreads(t, LAYOUT)
    assert m.current() == 1                                   # `?`: swapper
    t.write_memory(CURRENT, struct.pack("<I", KTHREADD))
    m.invalidate()
    assert m.running() is None and not m.is_alive(2)         # gdb has not heard of it
    assert m.current() == 2 and m.thread_name(2) == "kthreadd"   # the stop reply
    assert m.thread_ids() == [1, 2, 3] and m.thread_name(3) == "init"
    assert m.thread_of(1) == 3 and m.thread_of(2) == 2 and m.running() == 2


def test_a_task_left_out_of_a_list_gets_a_new_id_and_a_new_inferior_starts_at_1(model):
    model.set_enabled(False)
    assert model.thread_ids() == [1]           # gdb deletes threads 2 and 3
    assert not model.is_alive(2) and model.thread_of(2) is None
    model.set_enabled(True)
    assert model.thread_ids() == [1, 4, 5]     # gdb numbers them anew: 4, 5
    assert model.thread_name(4) == "init" and model.thread_name(5) == "kthreadd"
    model.new_inferior()
    assert not model.is_alive(4) and model.current() == 1
    assert model.thread_ids() == [1, 2, 3] and model.thread_name(3) == "kthreadd"


def test_single_cpu_thread_until_the_task_list_exists():
    t = fake_kernel(current=0)
    m = KernelThreads(t, LAYOUT)
    assert m.thread_ids() == [1] and m.current() == 1 and m.extra_info(1) == "CPU#0"
    assert m.read_register(1, "eip") == t.regs["eip"]
    with pytest.raises(TargetRegisterError):
        m.read_register(2, "eip")


def test_disabled_model_is_one_cpu_thread_but_ps_still_works():
    m = KernelThreads(fake_kernel(), LAYOUT, enabled=False)
    assert m.thread_ids() == [1] and m.extra_info(1) == "CPU#0"
    assert [t.comm for t in m.task_table().values()] == ["swapper", "init", "kthreadd"]
    assert m.running_pid() == 0 and not m.enabled


# ---------------------------------------------------------------- packets

class Harness:
    def __init__(self, target):
        self.target = target
        self.ctx = make_context(target, KernelThreads(target, LAYOUT))
        install_kernel_monitor(self.ctx, TraceSlot())   # no machine: nothing to trace
        self.dispatcher = make_dispatcher(self.ctx)
        self.session = Session(self.ctx, self.dispatcher, slice_insns=1000)
        self.decoder = Decoder()

    def ask(self, payload):
        out = self.session.receive(encode_packet(payload, binary=True))
        r = [e.data for e in self.decoder.feed(out) if isinstance(e, Packet)]
        return r[0] if len(r) == 1 else r

    def run(self):
        out = self.session.run_until_stopped()
        return [e.data for e in self.decoder.feed(out) if isinstance(e, Packet)]


@pytest.fixture
def h():
    t = fake_kernel()
    t.regs["eip"] = 0xC1000400
    hh = Harness(t)
    assert b"qXfer:threads:read+" in hh.ask(b"qSupported:swbreak+").split(b";")
    assert hh.ask(b"qfThreadInfo") == b"m01,02,03"    # gdb hears of the threads
    return hh


def test_thread_packets(h):
    assert h.ask(b"qfThreadInfo") == b"m01,02,03"
    assert h.ask(b"qsThreadInfo") == b"l"
    assert h.ask(b"qC") == b"QC01"
    assert h.ask(b"T03") == b"OK" and h.ask(b"T04") == b"E22"
    assert bytes.fromhex(h.ask(b"qThreadExtraInfo,3").decode()) == b"kthreadd (pid 2, sleeping)"
    assert h.ask(b"Hg04") == b"E22"


def test_qxfer_threads_names_every_task(h):
    xml = h.ask(b"qXfer:threads:read::0,1000")
    assert xml[:1] == b"l"
    assert b'<thread id="3" core="0" name="kthreadd">pid 2, sleeping</thread>' in xml
    assert b'<thread id="1" core="0" name="swapper">pid 0, running</thread>' in xml
    part = h.ask(b"qXfer:threads:read::0,14")          # offsets and lengths are hex
    assert part[:1] == b"m" and part[1:] == xml[1:0x15]
    assert h.ask(b"qXfer:threads:read::14,1000") == b"l" + xml[0x15:]


def test_g_of_a_sleeping_task_marks_unsaved_registers(h):
    assert h.ask(b"Hg3") == b"OK"
    g = h.ask(b"g").decode()
    assert g.startswith("x" * 32)                                  # eax ecx edx ebx
    assert g[32:48] == struct.pack("<II", 0xC1002000, 0xC1002020).hex()  # esp ebp
    assert g[64:72] == struct.pack("<I", RESUME).hex()             # eip
    assert h.ask(b"p8") == struct.pack("<I", RESUME).hex().encode()
    reply = h.ask(b"P0=01000000")
    assert reply.startswith(b"E.cannot write eax of thread 3 (kthreadd, pid 2)")
    assert h.ask(b"Hg1") == b"OK" and h.ask(b"P0=01000000") == b"OK"


def test_stepping_a_sleeping_task_runs_until_it_is_scheduled(h):
    assert h.ask(b"vCont;s:3;c") == []          # no stop yet: the machine runs
    assert RESUME in h.target.breakpoints       # the stub's own breakpoint at its resume pc
    # The "scheduler" switches to kthreadd before the machine reaches RESUME.
    h.target.write_memory(CURRENT, struct.pack("<I", KTHREADD))
    stop = h.run()
    assert stop == [stop[0]] and stop[0].startswith(b"T05thread:03;")
    assert RESUME not in h.target.breakpoints   # removed again
    assert h.ask(b"qC") == b"QC03"


def test_resume_address_hit_by_another_task_keeps_running(h):
    h.target.regs["eip"] = 0xC1000400
    assert h.ask(b"vCont;s:3;c") == []
    out = h.session.run_slice()                 # hits RESUME with swapper current: goes on
    assert out == b"" and h.session.running


# ---------------------------------------------------------------- the real ELF

def test_layout_from_vmlinux_matches_gdb(kernel, gdb):
    layout = KernelLayout.from_elf(kernel)
    assert KernelLayout.from_elf(kernel) is layout          # cached per ELF
    exprs = {
        "pid": "&((struct task_struct *)0)->pid",
        "comm": "&((struct task_struct *)0)->comm",
        "tasks": "&((struct task_struct *)0)->tasks",
        "state": "&((struct task_struct *)0)->state",
        "thread.sp": "&((struct task_struct *)0)->thread.sp",
        "thread.ip": "&((struct task_struct *)0)->thread.ip",
        "comm_len": "sizeof(((struct task_struct *)0)->comm)",
        "init_task": "&init_task",
        "current_task": "&current_task",
    }
    cmd = [gdb, "-q", "-nx", "-batch", kernel]
    for e in exprs.values():
        cmd += ["-ex", f"print/u (unsigned long) {e}"]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    values = [int(line.split("=")[1]) for line in out.splitlines() if line.startswith("$")]
    got = dict(zip(exprs, values))
    assert layout.task["pid"] == got["pid"]
    assert layout.task["comm"] == got["comm"]
    assert layout.task["tasks"] == got["tasks"]
    assert layout.task["state"] == got["state"]
    assert layout.thread_sp == got["thread.sp"] and layout.thread_ip == got["thread.ip"]
    assert layout.comm_len == got["comm_len"]
    assert layout.sym("init_task") == got["init_task"]
    assert layout.sym("current_task") == got["current_task"]


def test_layout_needs_dwarf(kernel, tmp_path):
    objcopy = shutil.which("objcopy")
    if objcopy is None:
        pytest.skip("objcopy not installed")
    stripped = tmp_path / "vmlinux.nodebug"
    subprocess.run([objcopy, "--strip-debug", kernel, str(stripped)], check=True)
    with pytest.raises(LayoutError, match="DWARF"):
        KernelLayout.from_elf(stripped)
    model, why = make_thread_model(FakeTarget(), stripped)
    assert why and "DWARF" in why and model.thread_ids() == [1]


def test_continue_for_a_sleeping_task_only_runs_the_machine(h):
    assert h.ask(b"vCont;c:3") == []
    assert h.session.running and h.session.wait is None


def _expedited_pc(reply):
    return struct.unpack("<I", bytes.fromhex(reply.split(b";08:")[1][:8].decode()))[0]


def test_step_with_hc_of_a_task_off_the_cpu_ends_at_once(h):
    """`Hc T` then `s` resumes T alone: T cannot run without the others, so
    nothing runs and the stop names T at its resume address."""
    assert h.ask(b"Hc3") == b"OK"
    reply = h.ask(b"s")
    assert reply.startswith(b"T05thread:03;") and _expedited_pc(reply) == RESUME
    assert h.target.icount == 0 and h.target.regs["eip"] == 0xC1000400
    assert not h.session.running and h.session.wait is None
    assert RESUME not in h.target.breakpoints


def test_vcont_step_alone_of_a_sleeping_task_runs_nothing(h):
    """gdb's step over a breakpoint (vCont;s:T alone) for a task that is not on
    the CPU: no other task runs, so none of their breakpoints can be passed."""
    h.ask(b"Z0,c1000401,1")
    reply = h.ask(b"vCont;s:3")
    assert reply.startswith(b"T05thread:03;") and _expedited_pc(reply) == RESUME
    assert h.target.icount == 0
    assert h.ask(b"qC") == b"QC01"               # the CPU still runs swapper
    assert h.ask(b"vCont;c") == []
    assert h.run()[0].startswith(b"T05thread:01;swbreak:;")  # its breakpoint is next


def test_vcont_step_alone_waits_if_a_breakpoint_is_at_the_resume_address(h):
    """Reporting T at a gdb breakpoint would be taken for a hit (and the next
    step-over would end there again): T is run to it instead."""
    h.ask(b"Z0,%x,1" % RESUME)
    assert h.ask(b"vCont;s:3") == []
    assert h.session.wait.thread == 3


def test_a_step_alone_that_switches_the_task_out_ends_at_once(h):
    """gdb steps swapper alone over its breakpoint; the instruction makes
    kthreadd current: the step ends there, naming swapper at its resume
    address, and the CPU stays in kthreadd (nothing else ran)."""
    t = h.target
    put_task(t, INIT_TASK, 0, "swapper", 0, INIT + 24, sp=0xC1001000, ip=0xC1000600)
    real_step = t.step

    def switching_step():
        stop = real_step()
        t.write_memory(CURRENT, struct.pack("<I", KTHREADD))
        return stop

    t.step = switching_step
    reply = h.ask(b"vCont;s:1")
    assert reply.startswith(b"T05thread:01;") and _expedited_pc(reply) == 0xC1000600
    assert t.icount == 1 and t.regs["eip"] == 0xC1000401
    assert h.ask(b"qC") == b"QC03" and not h.session.running


def test_waiting_for_a_task_that_never_runs_gives_up_with_a_message(h, monkeypatch):
    """kthreadd sleeps for good: the step stops after STEP_WAIT_LIMIT
    instructions, exactly, with SIGINT for the CPU's thread and a line saying why."""
    from gdbstub.kernelaware import stepwait
    monkeypatch.setattr(stepwait, "STEP_WAIT_LIMIT", 5500)
    assert h.ask(b"vCont;s:3;c") == []
    out = h.run()
    assert len(out) == 2 and out[0].startswith(b"O")
    assert bytes.fromhex(out[0][1:].decode()).decode() == (
        'Thread 3 "kthreadd" (pid 2, sleeping) did not run within 5500 instructions, '
        'so the step ended; the CPU runs Thread 1 "swapper" (pid 0, running)\n')
    assert out[1].startswith(b"T02thread:01;")
    assert h.target.icount == 5500
    assert RESUME not in h.target.breakpoints and h.session.wait is None


def test_an_exception_while_planting_the_wait_breakpoint_is_an_error_reply(h):
    """The 128-breakpoint crash: the stub's own breakpoint for stepping a
    task that is not on the CPU did not fit, and the TargetError escaped."""
    said = []
    h.session.notify = said.append

    def full(addr):
        raise TargetError("too many breakpoints (max 128)")
    h.target.add_breakpoint = full
    assert h.ask(b"vCont;s:3;c") == b"E.too many breakpoints (max 128)"
    assert not h.session.running and h.session.wait is None
    assert said == ["refused handling b'vCont;s:3;c': too many breakpoints (max 128)"]
    assert h.ask(b"?").startswith(b"T05")


def test_the_session_runs_a_wait_the_thread_model_returns():
    """The session knows no kernel: a model's step may return a Wait, and
    the session runs the target in slices of at most its budget, reports
    the stop it picks with its note first, and ends it."""
    t = FakeTarget()
    ctx = make_context(t)
    log = []

    class Wait:
        interrupt_thread = None
        note = "waited\n"

        def budget(self):
            return 700

        def stopped(self, stop):
            log.append((stop.reason, t.icount))
            return stop if t.icount >= 2100 else None

        def end(self):
            log.append("end")

    ctx.threads.step = lambda tid, others, step, bps: Wait()
    s = Session(ctx, make_dispatcher(ctx), slice_insns=1000)
    dec = Decoder()
    assert s.receive(encode_packet(b"s")) == b"+"
    out = [e.data for e in dec.feed(s.run_until_stopped()) if isinstance(e, Packet)]
    assert log == [("limit", 700), ("limit", 1400), ("limit", 2100), "end"]
    assert bytes.fromhex(out[0][1:].decode()) == b"waited\n" and out[1].startswith(b"T05")
    assert s.wait is None and not s.running


def test_step_of_an_unknown_thread_is_refused(h):
    assert h.ask(b"vCont;s:9") == b"E22"


def test_a_step_that_switches_tasks_ends_when_the_task_runs_again(h):
    """swapper steps the instruction that makes kthreadd current: the step of
    thread 1 completes only when swapper is switched back in."""
    t = h.target
    put_task(t, INIT_TASK, 0, "swapper", 0, INIT + 24, sp=0xC1001000, ip=0xC1000600)
    real_step = t.step

    def switching_step():
        stop = real_step()
        t.write_memory(CURRENT, struct.pack("<I", KTHREADD))
        return stop

    t.step = switching_step
    t.regs["eip"] = 0xC1000400
    assert h.ask(b"vCont;s:1;c") == []          # switched away: keep running
    assert h.session.wait.thread == 1 and 0xC1000600 in t.breakpoints
    t.write_memory(CURRENT, struct.pack("<I", INIT_TASK))
    stop = h.run()
    assert stop[0].startswith(b"T05thread:01;")
    assert t.regs["eip"] == 0xC1000600 and 0xC1000600 not in t.breakpoints


def test_a_stop_makes_the_stopped_thread_the_general_thread(h):
    """gdb reads `g` after a stop without sending `Hg` again (it assumes the
    stop's thread, as with gdbserver): an older `Hg3` must not survive it."""
    assert h.ask(b"Hg3") == b"OK"
    assert h.ask(b"g").startswith(b"x" * 32)          # kthreadd's saved registers
    assert h.ask(b"Z0,c1000404,1") == b"OK"
    assert h.ask(b"c") == []
    stop = h.run()
    assert stop[0].startswith(b"T05thread:01;")
    g = h.ask(b"g").decode()
    assert not g.startswith("x")                       # swapper, on the CPU
    assert g[64:72] == struct.pack("<I", 0xC1000404).hex()


@pytest.mark.parametrize("packet, reported", [(b"vCont;s:3", False), (b"vCont;s:3;c", True)])
def test_others_breakpoints_while_waiting_are_events_only_if_they_run(h, packet, reported):
    """Waiting for kthreadd (alone: only because gdb has a breakpoint at its
    resume address): a breakpoint swapper hits first is an event only if gdb
    resumed the others too."""
    assert h.ask(b"Z0,%x,1" % RESUME) == b"OK"
    assert h.ask(b"Z0,c1000404,1") == b"OK"
    assert h.ask(packet) == []
    out = h.session.run_slice()                 # swapper hits the breakpoint
    if reported:
        assert out and not h.session.running
    else:
        assert out == b"" and h.session.running
        h.target.write_memory(CURRENT, struct.pack("<I", KTHREADD))
        stop = h.run()
        assert stop[0].startswith(b"T05thread:03;")
