"""The pytest plugin for gdb scripts (gdbstub/harness/pytest_plugin.py), as a user runs it:
pytest in a folder of test_*.gdb scripts and goldens, in a subprocess, with real
gdb against real stubs on pipes and the real kernel (or an edited copy of it)."""
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from gdbstub.harness.pytest_plugin import Header, ScriptError
from gdbstub.harness.transcript import TranscriptMismatch, mask, match_lines

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples", "regress")


def pytest_run(cwd, *args):
    """pytest in a subprocess (the plugin comes from the package's entry point)."""
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                       cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def copy_examples(tmp_path, *names):
    for name in names or [n for n in os.listdir(EXAMPLES) if n.startswith("test_")]:
        shutil.copy(os.path.join(EXAMPLES, name), tmp_path / name)


def test_header_options_kernel_and_masks():
    h = Header("# stub: --tasks --kernel=build/vmlinux\n#\n# stub: --append 'a=1 b'\n"
               "# mask: jiffies \\d+\nbreak x\n# stub: --not-in-the-header\n")
    assert h.stub_args == ["--tasks", "--append", "a=1 b"] and h.kernel == "build/vmlinux"
    assert [m.pattern for m in h.masks] == [r"jiffies \d+"]
    assert Header("# stub: --kernel k --once\n").stub_args == ["--once"]
    with pytest.raises(ScriptError, match="bad mask"):
        Header("# mask: (\n")


def test_masks_hide_more_than_addresses_on_both_sides():
    masks = [re.compile(r"jiffies \d+")]
    assert mask("at 0xc1001c10 jiffies 12", masks) == "at 0x........ <masked>"
    match_lines(["jiffies 7 then 0xc1000000"], ["jiffies 12 then 0xc1234567"], masks=masks)
    with pytest.raises(TranscriptMismatch):
        match_lines(["jiffies 7"], ["jiffies 12"])


def test_mismatch_names_the_command_whose_output_differs():
    with pytest.raises(TranscriptMismatch) as e:
        match_lines(["(gdb) next", "a", "(gdb) step", "b", "c"],
                    ["(gdb) next", "a", "(gdb) step", "b", "C"])
    assert "differs at line 5 (output of `step`)" in str(e.value)


def test_examples_pass_then_an_edited_golden_fails_naming_the_command(tmp_path, gdb):
    copy_examples(tmp_path, "test_seed.gdb", "test_seed.gdb.out")
    golden = tmp_path / "test_seed.gdb.out"
    good = golden.read_text()
    assert "create_kthread (create=0x........) at kernel/kthread.c:89\n" in good
    golden.write_text(good.replace("kernel/kthread.c:89\n", "kernel/kthread.c:88\n"))

    rc, out = pytest_run(tmp_path)
    assert rc == 1, out
    assert "(output of `step`)" in out, out
    step = open(os.path.join(EXAMPLES, "test_seed.gdb")).read().splitlines().index("step") + 1
    assert f"first differing command: test_seed.gdb:{step}: step\n" in out
    assert "GOOD    208\t\t\tcreate_kthread(create);" in out
    assert "GOOD    (gdb) step" in out
    assert "BAD     create_kthread (create=0x........) at kernel/kthread.c:89" in out
    assert "  wanted create_kthread (create=0x........) at kernel/kthread.c:88" in out
    assert "pytest --gdb-update test_seed.gdb" in out

    rc, out = pytest_run(tmp_path, "--gdb-update")
    assert rc == 0 and "gdb goldens: 1 written, 0 unchanged" in out, out
    assert golden.read_text() == good


def test_new_script_fails_with_its_transcript_until_updated(tmp_path, kernel, gdb):
    (tmp_path / "k").mkdir()
    shutil.copy(os.path.join(ROOT, kernel), tmp_path / "k" / "vmlinux")
    (tmp_path / "test_new.gdb").write_text(
        "# stub: --append kthread_bug=lost_complete --kernel k/vmlinux\n"
        "# mask: ^icount \\d+$\n"
        "break start_kernel\ncontinue\nmonitor icount\n")

    rc, out = pytest_run(tmp_path)
    assert rc == 1, out
    assert "no golden transcript test_new.gdb.out yet" in out
    assert "(gdb) target remote | kthread-stub --stdio --append kthread_bug=lost_complete" in out
    assert "Breakpoint 1, start_kernel () at init/main.c:" in out
    assert "\n<masked>\n" in out                                 # monitor icount's answer

    rc, out = pytest_run(tmp_path, "--gdb-update")
    assert rc == 0 and "gdb goldens: 1 written, 0 unchanged" in out, out
    assert "Reading symbols from vmlinux..." in (tmp_path / "test_new.gdb.out").read_text()
    rc, out = pytest_run(tmp_path, "--junitxml", "r.xml")
    assert rc == 0, out
    case = ET.parse(tmp_path / "r.xml").find(".//testcase")
    assert case.get("name") == "test_new" and case.find("failure") is None


def test_a_kernel_tree_is_built_once_per_session(tmp_path, kernel, gdb):
    tree = tmp_path / "mykernel"
    tree.mkdir()
    # make runs every time it is asked (phony): the log counts the asks
    (tree / "Makefile").write_text(
        ".PHONY: all\nall:\n\techo built >> builds.log\n"
        f"\tcp {os.path.join(ROOT, kernel)} vmlinux\n")
    for name in ("test_a", "test_b", "test_c"):
        (tmp_path / f"{name}.gdb").write_text("break start_kernel\n")
    rc, out = pytest_run(tmp_path, "--gdb-kernel", "mykernel", "--gdb-update")
    assert rc == 0 and "3 written" in out, out
    assert (tree / "builds.log").read_text() == "built\n"

    rc, out = pytest_run(tmp_path, "--gdb-kernel", "nowhere")
    assert rc == 1 and out.count("nowhere does not exist") >= 3, out


def junit_results(path):
    results = {}
    for case in ET.parse(path).iter("testcase"):
        failure = case.find("failure")
        results[case.get("name")] = None if failure is None else failure.text
    return results


def test_parallel_runs_give_the_same_results_as_serial(tmp_path, gdb):
    copy_examples(tmp_path)
    golden = tmp_path / "test_watch_last_writer.gdb.out"
    golden.write_text(golden.read_text().replace("kthread_demo", "kthread_deno"))

    rc, serial = pytest_run(tmp_path, "--junitxml", "serial.xml")
    assert rc == 1 and "1 failed, 2 passed" in serial, serial
    rc, parallel = pytest_run(tmp_path, "-n", "2", "--junitxml", "parallel.xml")
    assert rc == 1 and "1 failed, 2 passed" in parallel, parallel
    assert junit_results(tmp_path / "serial.xml") == junit_results(tmp_path / "parallel.xml")
    assert "BAD     $2 = \"kthread_demo" in junit_results(tmp_path / "serial.xml")[
        "test_watch_last_writer"]

    rc, out = pytest_run(tmp_path, "-k", "tasks")
    assert rc == 0 and "1 passed, 2 deselected" in out, out


def kthreadd_line(path, text):
    """1-based number of the line `text` inside kthreadd() in kthread.c at `path`."""
    lines = open(path).read().splitlines()
    start = lines.index("int kthreadd(void *unused)")
    return next(i for i in range(start, len(lines)) if lines[i].strip() == text) + 1


def test_an_edit_of_the_kernel_fails_the_seed_golden_at_the_shifted_line(tmp_path, kernel, gdb):
    """One more printk in kthreadd's sleep loop (which the seed session never enters)
    moves the lines after it: the first `next` that stops below it differs."""
    src = tmp_path / "kernel_src"
    shutil.copytree(os.path.join(ROOT, "kernel_src"), src, symlinks=True,
                    ignore=shutil.ignore_patterns("build", "vmlinux"))   # built from scratch
    kthread_c = src / "kernel" / "kthread.c"
    old = kthreadd_line(kthread_c, "list_del_init(&create->list);")
    text = kthread_c.read_text()
    loop = text.index("int kthreadd(void *unused)")
    at = text.index("\t\t\tschedule();\n", loop)
    kthread_c.write_text(text[:at] + '\t\t\tprintk("kthreadd: sleeping\\n");\n' + text[at:])
    assert kthreadd_line(kthread_c, "list_del_init(&create->list);") == old + 1
    copy_examples(tmp_path, "test_seed.gdb", "test_seed.gdb.out")
    golden = (tmp_path / "test_seed.gdb.out").read_text().splitlines()
    wanted = f"{old}\t\t\tlist_del_init(&create->list);"     # gdb: number, tab, the line

    rc, out = pytest_run(tmp_path, "--gdb-kernel", "kernel_src")
    assert rc == 1, out
    assert f"transcript differs at line {golden.index(wanted) + 1} (output of `next`)" in out, out
    assert f"BAD     {old + 1}\t\t\tlist_del_init(&create->list);" in out
    assert f"  wanted {wanted}" in out
