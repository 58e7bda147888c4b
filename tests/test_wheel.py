"""Installed from a wheel, not a checkout: build the wheel from a copy of the
project (deleted before use, so nothing can be read from where it was built),
install it into a fresh venv in a temporary folder and run from there: the seed
session with its source lines, `kthread-lab doctor` and `grade 1 --reference`,
the plugin on a golden script, and a build of edited sources into the per-user
cache.  Offline: the wheel is built without build isolation and installed with
--no-index --no-deps; its dependencies come from this venv (a .pth line)."""
import os
import shutil
import subprocess
import sys
import sysconfig

import pytest

from gdbharness import from_first_command, load_golden, match_lines

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOT_COPIED = {".git", ".venv", "build", "dist", "__pycache__", ".pytest_cache", "vmlinux",
              "kthread_machine.egg-info"}


def run(cmd, **kw):
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, **kw)
    return r.returncode, r.stdout, r.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory, gdb):
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, symlinks=True,
                    ignore=lambda d, names: [n for n in names if n in NOT_COPIED])
    rc, out, err = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                        "--no-index", "-q", "-w", str(tmp / "dist"), str(src)])
    assert rc == 0, out + err
    shutil.rmtree(src)
    (wheel,) = (tmp / "dist").iterdir()
    venv = tmp / "venv"
    rc, out, err = run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert rc == 0, out + err
    python = str(venv / "bin" / "python")
    rc, out, err = run([sys.executable, "-m", "pip", "--python", python, "install", "-q",
                        "--no-index", "--no-deps", str(wheel)])
    assert rc == 0, out + err
    rc, site, err = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    deps = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    with open(os.path.join(site.strip(), "_deps_from_the_test_venv.pth"), "w") as f:
        f.write("\n".join(sorted(deps)) + "\n")
    work = tmp / "work"          # far from the checkout
    work.mkdir()
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp / "cache"))
    return {"venv": venv, "python": python, "site": site.strip(), "work": work, "env": env,
            "cache": tmp / "cache", "wheel": wheel}


def in_venv(installed, *cmd):
    return run(list(cmd), cwd=installed["work"], env=installed["env"])


def test_the_wheel_carries_sources_a_stamped_vmlinux_and_gdb_helpers(installed):
    site = installed["site"]
    for rel in ("kernel_src/Makefile", "kernel_src/kernel/kthread.c", "kernel_src/vmlinux",
                "kernel_src/vmlinux.sources", "gdb_scripts/kt.py", "gdb_scripts/kthreadd.gdb"):
        assert os.path.isfile(os.path.join(site, rel)), rel
    assert not os.path.exists(os.path.join(site, "kernel_src", "build"))   # no objects
    assert not os.path.exists(os.path.join(site, "labs", "1-kthreadd", "key"))  # instructor kit
    rc, out, err = in_venv(installed, installed["python"], "-c",
                           "import machine, gdbstub, labs; print(machine.__file__)")
    assert rc == 0 and out.startswith(site), out + err


def test_seed_session_from_the_installed_wheel_prints_source_lines(installed):
    script = os.path.join(installed["site"], "gdb_scripts", "kthreadd.gdb")
    rc, out, err = in_venv(installed, installed["python"], "-m", "gdbstub.harness.session", script)
    assert rc == 0, out + err
    assert "192\t{" in out
    golden = load_golden(os.path.join(ROOT, "tests", "golden", "test_kthreadd.gdb.out"))
    match_lines(from_first_command(golden), from_first_command(out))
    assert not installed["cache"].exists()        # the prebuilt kernel: nothing was built


def test_doctor_and_grading_lab_1_from_the_installed_wheel(installed):
    lab = str(installed["venv"] / "bin" / "kthread-lab")
    rc, out, err = in_venv(installed, lab, "doctor")
    assert rc == 0 and "all checks passed" in out, out + err
    # the reference solution is in the instructor kit (labs/N-name/key/), not in the wheel
    rc, out, err = in_venv(installed, lab, "grade", "1", "--reference")
    assert rc != 0 and "--key" in out + err
    rc, out, err = in_venv(installed, lab, "grade", "1", "--reference",
                           "--key", os.path.join(ROOT, "labs"))
    assert rc == 0 and "Score: 100/100" in out, out + err


def test_the_installed_plugin_runs_a_golden_script(installed):
    for name in ("test_seed.gdb", "test_seed.gdb.out"):
        shutil.copy(os.path.join(ROOT, "examples", "regress", name), installed["work"] / name)
    rc, out, err = in_venv(installed, installed["python"], "-m", "pytest", "-p",
                           "no:cacheprovider", "test_seed.gdb")
    assert rc == 0 and "1 passed" in out, out + err


def test_edited_installed_sources_build_once_into_the_user_cache(installed):
    kthread_c = os.path.join(installed["site"], "kernel_src", "kernel", "kthread.c")
    with open(kthread_c, "a") as f:
        f.write("/* edited after install */\n")
    find = [installed["python"], "-c", "from machine.kbuild import ensure_kernel as k; print(k())"]
    rc, out, err = in_venv(installed, *find)
    assert rc == 0, out + err
    assert "building it in " + str(installed["cache"]) in err
    built = out.strip()
    assert built.startswith(str(installed["cache"])) and os.path.isfile(built)
    rc, out, err = in_venv(installed, *find)
    assert (rc, out.strip(), err) == (0, built, "")     # built once
