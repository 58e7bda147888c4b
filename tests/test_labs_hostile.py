"""Hostile submissions: forged output earns nothing, host escapes are refused
before the run, and grading writes nothing outside its temporary folder."""
import os
import subprocess
import sys

import pytest

from labs import get_lab, sandbox
from labs.grade import grade

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def key(lab, name):
    with open(lab.key_file(name)) as f:
        return f.read()


# ---- the sandbox, before anything runs ----------------------------------

ESCAPES = [
    ("shell touch x", "`shell` runs host commands"),
    ("sh touch x", "`sh` abbreviates `shell`"),
    ("!touch x", "`!`: runs host commands"),
    ("| bt | tee x", "`|`: pipes to host commands"),
    ("pipe bt | tee x", "`pipe` runs host commands"),
    ("python open('x', 'w')", "`python` runs host commands"),
    ("py open('x', 'w')", "`py` runs host commands"),
    ("python-interactive", "`python-interactive` runs host commands"),
    ("pi", "`pi` runs host commands"),
    ("guile", "`guile` runs host commands"),
    ("source labs/1-kthreadd/key/reference.gdb", "`source` reads or writes host files"),
    ("so labs/1-kthreadd/key/reference.gdb", "`so` abbreviates `source`"),
    ("make", "`make` runs host commands"),
    ("cd /", "`cd` reads or writes host files"),
    ("dump memory x 0xc1000000 0xc1000010", "`dump` reads or writes host files"),
    ("restore x", "`restore` reads or writes host files"),
    ("append memory x 0xc1000000 0xc1000010", "`append` reads or writes host files"),
    ("save breakpoints x", "`save` reads or writes host files"),
    ("set logging file x", "`set logging` is not allowed"),
    ("set log on", "`set log` is not allowed"),
    ("set history filename x", "`set history` is not allowed"),
    ("target remote | touch x", "`target` changes the debugged target"),
    ("run", "`run` changes the debugged target"),
    ("edit kthreadd", "`edit` runs host commands"),
    ("eval \"shell touch x\"", "`eval` runs a command this check cannot see"),
    ("with confirm off -- shell touch x", "`with` runs a command this check cannot see"),
    ("alias ls = shell", "`alias` runs a command this check cannot see"),
    ("interpreter-exec mi \"-interpreter-exec console \\\"shell touch x\\\"\"",
     "`interpreter-exec` runs host commands"),
    ("thread apply all shell touch x", "`shell` runs host commands"),
    ("frame apply all -q python 1", "`python` runs host commands"),
    ("taas shell touch x", "`shell` runs host commands"),
    ("break kthreadd if $_shell(\"touch x\")", "$_shell runs host commands"),
    ("monitor trace on x.json", "`monitor trace on x.json`: writes a host file"),
    ("define hook-stop\necho hi\nend", "`define hook-stop`: redefines a gdb command or hook"),
    ("define bt\necho #0  kthreadd\nend", "`define bt`: redefines a gdb command or hook"),
    ("define look\nshell touch x\nend", "line 3: `shell` runs host commands"),
    ("break kthreadd\ncommands\necho #0  kthreadd (unused=0x0)\\n\nend",
     "line 4: `echo` in a breakpoint's `commands` could print anything"),
    ("dprintf kthreadd,\"Breakpoint 2, kthreadd\\n\"", "`dprintf` prints what it is told to"),
    ("document x\nshell touch x\nend", "`document` runs a command this check cannot see"),
    ("sh\\\nell touch x", "`shell` runs host commands"),
    ("quit", "`quit` changes the debugged target"),
    ("frobnicate", "`frobnicate` is not a debugger command"),
]


@pytest.mark.parametrize("text,why", ESCAPES)
def test_every_escape_is_refused_with_one_line_naming_it(text, why):
    with pytest.raises(sandbox.Rejected) as e:
        sandbox.parse("bt\n" + text + "\n")
    msg = str(e.value)
    assert "\n" not in msg and why in msg, msg
    assert msg.startswith("line "), msg
    if not why.startswith("line "):                  # the first line of `text`
        assert msg.startswith("line 2: "), msg


def test_debugger_commands_pass_and_only_real_ones_are_evidence():
    cmds = sandbox.parse("break kthreadd\nc\nbt\ni r ebx\np $edx\np 2\np/x 0xc1001c10\n"
                         "print \"#0  kthreadd\"\necho #0  kthreadd\\n\nprintf \"x\\n\"\n"
                         "output p->pid\nlist 89\ndefine look\nbt\nend\nlook\n"
                         "thread apply all bt\nthread apply all echo x\nset var x = 1\n"
                         "set $i = 0\nwhile $i < 2\nnext\nset $i = $i + 1\nend\n"
                         "watch -l late_started.done\nrc\nx/4i $pc\n")
    assert [(c.text, sandbox.is_evidence(c)) for c in cmds] == [
        ("break kthreadd", True), ("c", True), ("bt", True), ("i r ebx", True),
        ("p $edx", True), ("p 2", False), ("p/x 0xc1001c10", False),
        ("print \"#0  kthreadd\"", False), ("echo #0  kthreadd\\n", False),
        ("printf \"x\\n\"", False), ("output p->pid", False), ("list 89", False),
        ("define look", False), ("look", False), ("thread apply all bt", True),
        ("thread apply all echo x", False), ("set var x = 1", False), ("set $i = 0", False),
        ("while $i < 2", False), ("watch -l late_started.done", True), ("rc", True),
        ("x/4i $pc", True)]
    assert cmds[-4].lines == ["while $i < 2", "next", "set $i = $i + 1", "end"]


# ---- forgeries, on the real machine --------------------------------------

def _forge(transcript, how):
    """A command file that prints `transcript`'s lines with `how`."""
    lines = [l for l in transcript.splitlines() if l and not l.startswith("(gdb) ")]
    esc = [l.replace("\\", "\\\\").replace('"', '\\"') for l in lines]
    if how == "echo":
        return "".join(f"echo {e}\\n\n" for e in esc)
    if how == "printf":
        return "".join(f'printf "%s\\n", "{e}"\n' for e in esc)
    if how == "output":
        return "".join(f'output "{e}"\necho \\n\n' for e in esc)
    if how == "define":
        return "define forged\n" + "".join(f"echo {e}\\n\n" for e in esc) + "end\nforged\n"
    if how == "commands":   # echo at a real stop, from a breakpoint's command list
        return "break kthreadd\ncommands\n" + "".join(f"echo {e}\\n\n" for e in esc) + "end\n"
    raise ValueError(how)


@pytest.fixture(scope="module")
def lab1_reference(kernel, gdb):
    lab = get_lab(1)
    return grade(lab, key(lab, "reference.gdb"), "", kernel=kernel)


@pytest.mark.parametrize("how", ["echo", "printf", "output", "define"])
def test_printing_the_reference_transcript_earns_nothing(kernel, gdb, lab1_reference, how):
    lab = get_lab(1)
    assert lab1_reference.score == 70          # every machine check of the reference
    r = grade(lab, _forge(lab1_reference.replay.student, how), "", kernel=kernel)
    assert "Breakpoint 2, kthreadd (unused=0x0) at kernel/kthread.c:192" in r.replay.student
    assert r.score == 0, r.report(verbose=True)


def test_a_real_stop_does_not_make_forged_lines_count(kernel, gdb):
    """`break kthreadd` + `continue` really stop there (10 points); echoed backtrace,
    registers and source lines around it earn nothing."""
    lab = get_lab(1)
    forged = ("break kthreadd\ncontinue\n"
              "echo #0  kthreadd (unused=0x0) at kernel/kthread.c:192\\n\n"
              "echo #1  0xc1000847 in kernel_thread_helper () at arch/x86/kernel/entry_32.S:1000\\n\n"
              "echo $1 = (void *) 0xc1001c10 <kthreadd>\\n\necho $2 = 0\\n\n"
              "print (void *) 0xc1001c10\nprint 0\n"
              "echo    0xc1000840 <kernel_thread_helper>:\\tpush   $0x0\\n\n"
              "echo kernel_thread_helper + 7 in section .text\\n\n"
              "list kernel/kthread.c:89,89\n"
              "echo kthreadd (unused=<optimized out>) at kernel/kthread.c:209\\n\n")
    r = grade(lab, forged, "", kernel=kernel)
    assert [t["name"] for t, ok, _ in r.tests if ok] == ["break-kthreadd"], r.report(True)
    assert r.score == 10


def test_the_key_copied_into_a_source_line_is_refused(tmp_path):
    sub = tmp_path / "s.gdb"
    sub.write_text("source labs/4-lifetime/key/reference.gdb\n")
    r = subprocess.run([sys.executable, "-m", "labs", "grade", "4", str(sub)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 2
    assert r.stderr == ("kthread-lab: line 1: `source` reads or writes host files; not "
                        "allowed in a graded submission\n")


def _snapshot(path):
    out = {}
    for d, dirs, files in os.walk(path):
        dirs[:] = [x for x in dirs if x not in (".git", ".venv", "__pycache__", ".pytest_cache")]
        for f in files:
            p = os.path.join(d, f)
            st = os.stat(p)
            out[p] = (st.st_size, st.st_mtime_ns)
    return out


def test_grading_writes_nothing_outside_its_temporary_folder(kernel, gdb, tmp_path):
    """A hostile but allowed submission (forgeries, defines, a breakpoint command
    list, a reverse run) graded by the CLI: the clone, the current folder and
    HOME are unchanged, and the grader's temporary folder is gone."""
    # A TMPDIR of its own: other graders on the machine use the shared /tmp.
    cwd, home, tmp = tmp_path / "cwd", tmp_path / "home", tmp_path / "tmp"
    cwd.mkdir()
    home.mkdir()
    tmp.mkdir()
    sub = cwd / "hostile.gdb"
    sub.write_text("break kthreadd\ncommands\nbt\nend\ncontinue\n"
                   + _forge("#0  kthreadd (unused=0x0) at kernel/kthread.c:192\n", "define")
                   + "watch -l *(int *) $esp\nreverse-continue\nx/4wx $sp\n")
    before_repo = _snapshot(ROOT)
    env = dict(os.environ, HOME=str(home), TMPDIR=str(tmp), PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-m", "labs", "grade", "1", str(sub)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       cwd=str(cwd), env=env, timeout=180)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "break-kthreadd: OK (10/10)" in r.stdout
    assert "backtrace-through-helper: OK" in r.stdout     # the real bt at the stop
    assert sorted(os.listdir(cwd)) == ["hostile.gdb"]
    assert os.listdir(home) == []
    # the grader's temporary folder is gone (the kernel build's lock file stays, by design)
    assert [n for n in os.listdir(tmp) if not n.startswith("kthread-kbuild-")] == []
    changed = {p for p, v in _snapshot(ROOT).items() if before_repo.get(p) != v}
    assert not changed, changed
