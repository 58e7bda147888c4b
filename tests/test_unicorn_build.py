"""scripts/unicorn/build.py: the patched unicorn's cache key, the venv stamp and the fallback
to PyPI's stock wheel, with pip and the compiler replaced by recorders; and, when CI asks
for it (KTHREAD_EXPECT_ICOUNT=1), that the installed engine is the patched one."""
import ctypes
import importlib.util
import io
import os
import subprocess
import tarfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location(
    "unicorn_build", os.path.join(ROOT, "scripts", "unicorn", "build.py"))
ub = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ub)

REAL_RUN = subprocess.run
with open(ub.DIFF, "rb") as _f:
    KEY = ub.cache_key(_f.read())


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A venv folder and a cache of their own; every command recorded, none run."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("KTHREAD_UNICORN", raising=False)
    venv = tmp_path / "venv"
    venv.mkdir()
    cmds = []

    def record(cmd, *a, **kw):
        cmds.append(list(cmd))
        return subprocess.CompletedProcess(cmd, 0)
    monkeypatch.setattr(ub.subprocess, "run", record)
    return str(venv), str(tmp_path / "cache" / "kthread-machine" / "unicorn"), cmds


def test_key_follows_the_diff_and_the_build_recipe(monkeypatch):
    assert ub.cache_key(b"a") == ub.cache_key(b"a")
    assert ub.cache_key(b"a") != ub.cache_key(b"b")
    assert len(KEY) == 16 and int(KEY, 16) >= 0
    before = ub.cache_key(b"a")
    monkeypatch.setattr(ub, "CMAKE", ub.CMAKE[:-1] + ["-DUNICORN_ARCH=x86;arm"])
    assert ub.cache_key(b"a") != before


def test_stamp_round_trip(tmp_path):
    assert ub.read_stamp(str(tmp_path)) is None
    ub.write_stamp(str(tmp_path), "icount-" + KEY)
    assert ub.read_stamp(str(tmp_path)) == "icount-" + KEY
    assert os.listdir(tmp_path) == [".unicorn"]


def test_installed_patched_wheel_costs_nothing(env):
    venv, root, cmds = env
    ub.write_stamp(venv, "icount-" + KEY)
    assert ub.main(venv) == 0
    assert cmds == [] and not os.path.exists(root)


def test_cached_wheel_is_installed_without_a_build(env, capsys):
    venv, root, cmds = env
    os.makedirs(os.path.join(root, KEY))
    wheel = os.path.join(root, KEY, "unicorn-2.1.4-cp37-abi3-linux_x86_64.whl")
    open(wheel, "w").close()
    ub.write_stamp(venv, "stock")
    assert ub.main(venv) == 0
    assert len(cmds) == 1 and cmds[0][-4:] == ["install", "--force-reinstall", "--no-deps", wheel]
    assert ub.read_stamp(venv) == "icount-" + KEY
    assert capsys.readouterr().err == ""


def test_missing_cmake_falls_back_to_stock_in_one_line(env, capsys, monkeypatch):
    venv, root, cmds = env
    monkeypatch.setattr(ub.shutil, "which", lambda t: None if t == "cmake" else "/usr/bin/" + t)
    ub.write_stamp(venv, "icount-0123456789abcdef")      # an older patch's wheel
    assert ub.main(venv) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cmake not found" in err and "falls back" in err
    assert cmds == [[os.path.join(venv, "bin", "python"), "-m", "pip",
                     "--disable-pip-version-check", "install", "-q", "--force-reinstall",
                     "--no-deps", "--only-binary", "unicorn", "unicorn==2.1.4"]]
    assert ub.read_stamp(venv) == "stock"


def test_fresh_venv_without_cmake_keeps_what_pip_installed(env, capsys, monkeypatch):
    venv, root, cmds = env
    monkeypatch.setattr(ub.shutil, "which", lambda t: None)
    assert ub.main(venv) == 0
    assert cmds == [] and ub.read_stamp(venv) == "stock"
    assert "falls back" in capsys.readouterr().err


def test_patch_that_does_not_apply_is_remembered_and_leaves_no_wheel_dir(env, capsys,
                                                                          monkeypatch, tmp_path):
    """Real tar and patch on an sdist with no sources: the patch fails, the reason is kept
    in the cache (no rebuild at the next setup), nothing half-built is left."""
    venv, root, cmds = env
    monkeypatch.setattr(ub.subprocess, "run", REAL_RUN)
    sdist = tmp_path / ub.SDIST
    with tarfile.open(sdist, "w:gz") as tar:
        info = tarfile.TarInfo("unicorn-2.1.4/src")
        info.type = tarfile.DIRTYPE
        tar.addfile(info, io.BytesIO())
    monkeypatch.setattr(ub, "fetch_sdist", lambda *a: str(sdist))
    assert ub.main(venv) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "icount.diff does not apply" in err and "falls back" in err
    assert sorted(os.listdir(root)) == [".lock", KEY + ".failed", KEY + ".log"]
    assert ub.read_stamp(venv) == "stock"

    monkeypatch.setattr(ub, "fetch_sdist", lambda *a: pytest.fail("built again"))
    assert ub.main(venv) == 0
    assert "rm %s/%s.failed to retry" % (root, KEY) in capsys.readouterr().err


def test_sdist_with_another_sha256_is_refused(env, monkeypatch, tmp_path):
    venv, root, cmds = env

    def download(cmd, log, why, **kw):
        dl = cmd[cmd.index("-d") + 1]
        os.makedirs(dl)
        with open(os.path.join(dl, ub.SDIST), "w") as f:
            f.write("not the sdist")
    monkeypatch.setattr(ub, "run", download)
    with pytest.raises(ub.BuildError, match="not the pinned " + ub.SDIST_SHA256):
        ub.fetch_sdist(venv, root, str(tmp_path), io.StringIO())
    assert not os.path.exists(os.path.join(root, ub.SDIST))


def test_stock_on_purpose(env, capsys, monkeypatch):
    venv, root, cmds = env
    monkeypatch.setenv("KTHREAD_UNICORN", "stock")
    ub.write_stamp(venv, "icount-" + KEY)
    assert ub.main(venv) == 0
    assert cmds[0][-1] == "unicorn==2.1.4" and ub.read_stamp(venv) == "stock"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "KTHREAD_UNICORN=stock" in err and "falls back" in err
    monkeypatch.setenv("KTHREAD_UNICORN", "fast")
    assert ub.main(venv) == 2
    assert "KTHREAD_UNICORN=fast" in capsys.readouterr().err


@pytest.mark.skipif(os.environ.get("KTHREAD_EXPECT_ICOUNT") != "1",
                    reason="KTHREAD_EXPECT_ICOUNT=1 (set by .ci/run) asks for the patched engine")
def test_installed_engine_counts_instructions_inline():
    from unicorn import Uc, UC_ARCH_X86, UC_MODE_32
    from unicorn.unicorn_py3.unicorn import uclib
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    enable = 15 | 1 << 26 | 1 << 30        # UC_CTL_ICOUNT_ENABLE, one argument, write
    assert uclib.uc_ctl(uc._uch, ctypes.c_int(enable), ctypes.c_int(1)) == 0, \
        "the installed unicorn is PyPI's stock one: `make setup` did not build the patched engine"
