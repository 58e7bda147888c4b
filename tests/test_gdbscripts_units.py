"""Unit tests of the kt helpers' plain functions (gdb_scripts/kt/), run inside gdb.

The helpers import gdb, so each test runs `gdb -batch` (no stub, no target)
with a Python snippet that imports the kt modules and prints one JSON result.
With the kernel's ELF loaded and no target, gdb reads the kernel's initial
data from the file: init_task alone on its task list, an empty
kthread_create_list.
"""
import json
import os
import subprocess
import textwrap

from gdbstub.harness import session

ROOT = session.ROOT
MARK = "KT-RESULT "


def gdb_python(code, objfile=None, gdb_args=()):
    """Run `code` in gdb's Python after sourcing kt.py; return (result, output).

    `code` sets `result` to something JSON-serialisable.
    """
    script = ("import json, gdb\nresult = None\n" + textwrap.dedent(code)
              + f"\nprint({MARK!r} + json.dumps(result))\n")
    cmd = ["gdb", "-q", "-nx", "-batch", *gdb_args]
    if objfile:
        cmd.append(objfile)
    cmd += ["-ex", "source gdb_scripts/kt.py", "-ex", "python " + _one_line_exec(script)]
    res = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, cwd=ROOT, timeout=60, text=True)
    for line in res.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):]), res.stdout
    raise AssertionError(f"no result from gdb:\n{res.stdout}")


def _one_line_exec(script):
    # `python CODE` takes one line: hand the script over as a string literal.
    return f"exec({script!r})"


def test_gdb_decodes_task_states_as_the_stub_does(gdb):
    """kt-ps and `monitor ps` share kt/taskstate.py: gdb's copy of it (imported
    as kt.taskstate) and the stub's (loaded by path) give the same text."""
    from gdbstub.kernelaware.oskernel import Task
    states = [(s, e, on) for s in (0, 1, 2, 64, 8) for e in (0, 16, 32) for on in (False, True)]
    result, _ = gdb_python(f"""
        from kt.taskstate import describe
        result = [describe(s, e, on) for s, e, on in {states!r}]
    """)
    stub = []
    for s, e, on in states:
        t = Task(addr=0, pid=0, comm="", state=s, exit_state=e, sp=0, ip=0)
        stub.append(f"{t.state_letter(on)} ({t.state_name(on)})")
    assert result == stub
    assert result[:4] == ["R (runnable)", "R (running)", "Z (zombie)", "Z (zombie)"]


def test_format_ps(gdb):
    result, _ = gdb_python("""
        from kt.tasks import format_ps
        result = format_ps([(0xc1008160, 0, "R (runnable)", "swapper", False),
                            (0xc103cf80, 12345, "S (sleeping)", "events/0", True)])
    """)
    assert result.splitlines() == [
        "  TASK         PID  STATE                 COMM",
        "  0xc1008160     0  R (runnable)          swapper",
        "* 0xc103cf80 12345  S (sleeping)          events/0",
    ]


def test_format_requests(gdb):
    result, _ = gdb_python("""
        from kt.kthreads import format_requests
        req = dict(address=0xc103ff6c, threadfn="ksoftirqd", data=0, result=0x17,
                   done=0, waiters=[(1, "init")])
        served = dict(req, done=1, result=0xc103ce80, waiters=[])
        result = [format_requests([]), format_requests([req]),
                  format_requests([req, served])]
    """)
    empty, one, two = result
    assert empty == "kthread_create_list is empty: no pending kthread_create() requests\n"
    assert one.splitlines() == [
        "1 pending kthread_create() request on kthread_create_list (kthreadd serves the first):",
        "request 0xc103ff6c: threadfn ksoftirqd, data 0x0, result not set yet",
        "  done: count 0, waited on by init (pid 1)",
    ]
    assert two.splitlines()[0].startswith("2 pending kthread_create() requests ")
    assert two.splitlines()[3:] == [
        "request 0xc103ff6c: threadfn ksoftirqd, data 0x0, result 0xc103ce80",
        "  done: count 1, nobody waiting"]


def test_static_kernel_image(kernel, gdb):
    """Against the ELF alone: init_task heads a list holding only itself."""
    result, _ = gdb_python("""
        from kt import utils, tasks, kthreads
        t = tasks.task_type.get_type()
        init = gdb.parse_and_eval("&init_task")
        back = utils.container_of(gdb.parse_and_eval("&init_task.tasks"), t, "tasks")
        kthreadd = int(gdb.parse_and_eval("&kthreadd"))
        result = dict(
            offset=utils.offset_of(t, "tasks"),
            gdb_offset=int(gdb.parse_and_eval("(unsigned)&((struct task_struct *)0)->tasks")),
            back=int(back) == int(init), back_type=str(back.type),
            tasks=[(int(x["pid"]), x["comm"].string()) for x in tasks.task_list()],
            current=int(tasks.current_task()) == int(init),
            find0=int(tasks.find_task(0)) == int(init), find2=tasks.find_task(2),
            ps=tasks.ps_rows()[0][1:],
            kthreads=kthreads.pending_requests(),
            sym=[utils.symbol_name(kthreadd), utils.symbol_name(kthreadd + 1),
                 utils.symbol_name(0)],
        )
    """, objfile=kernel)
    assert result["offset"] == result["gdb_offset"] > 0
    assert result["back"] and result["back_type"] == "struct task_struct *"
    assert result["tasks"] == [[0, "swapper"]]
    assert result["current"] and result["find0"] and result["find2"] is None
    assert result["ps"] == [0, "R (running)", "swapper", True]
    assert result["kthreads"] == []
    assert result["sym"] == ["kthreadd", "kthreadd+0x1", "NULL"]


def test_type_cache_reset_on_new_objfile(kernel, gdb):
    result, _ = gdb_python(f"""
        from kt import tasks
        before = tasks.task_type._type is None
        tasks.task_type.get_type()
        cached = tasks.task_type._type is not None
        gdb.execute("file {kernel}")
        result = [before, cached, tasks.task_type._type is None]
    """, objfile=kernel)
    assert result == [True, True, True]


def _error_of(code, **kw):
    result, out = gdb_python(f"""
        try:
            {code}
            result = "no error"
        except gdb.GdbError as e:
            result = str(e)
    """, **kw)
    return result


def test_missing_symbols_are_a_clear_error(gdb):
    assert _error_of("from kt import tasks; tasks.task_list()") == \
        "no symbol file loaded (load the kthread kernel's symbols: gdb kernel_src/vmlinux)"
    wrong = _error_of("from kt import tasks; tasks.task_list()",
                      objfile=os.path.realpath(gdb))   # an ELF, not the kernel
    assert wrong.startswith("no symbol 'init_task' (head of the task list) in ")
    assert wrong.endswith(": is this the kthread kernel? "
                          "(load the kthread kernel's symbols: gdb kernel_src/vmlinux)")


def test_missing_type_is_a_clear_error(kernel, gdb):
    assert _error_of("from kt import utils; utils.CachedType('struct no_such').get_type()",
                     objfile=kernel) == (
        "no type 'struct no_such' in the loaded symbols: is this the kthread kernel? "
        "(load the kthread kernel's symbols: gdb kernel_src/vmlinux)")


def test_memory_error_without_target(kernel, gdb):
    assert _error_of("from kt import utils; raise utils.memory_error("
                     "gdb.MemoryError('Cannot access memory at address 0xc1000000'), 'x')",
                     objfile=kernel) == (
        "cannot read x: Cannot access memory at address 0xc1000000 "
        "(is the machine stopped and connected?)")


def test_commands_without_target_say_so(kernel, gdb):
    _, out = gdb_python("gdb.execute('kt-ps'); gdb.execute('kt-dmesg')", objfile=kernel)
    assert "kt-ps: no target connected: showing the initial data in " in out
    assert "* 0x" in out and " swapper" in out
    assert "(the kernel log is empty)" in out


def test_source_twice_keeps_one_objfile_handler(kernel, gdb):
    result, _ = gdb_python("""
        import builtins
        gdb.execute("source gdb_scripts/kt.py")
        from kt import utils, tasks
        tasks.task_type.get_type()
        result = [builtins._kt_objfile_handler is utils.reset_type_caches,
                  tasks.task_type._type is not None]
        gdb.execute("file " + gdb.current_progspace().filename)
        result.append(tasks.task_type._type is None)
    """, objfile=kernel)
    assert result == [True, True, True]
