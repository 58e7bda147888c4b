"""machine.kbuild.ensure_kernel: build on demand, one-line errors."""
import os

import pytest

from machine import KernelImageError
from machine import kbuild


def test_explicit_path_is_returned_unbuilt(tmp_path):
    p = tmp_path / "k.elf"
    p.write_bytes(b"x")
    assert kbuild.ensure_kernel(str(p)) == str(p)
    with pytest.raises(KernelImageError, match="does not exist"):
        kbuild.ensure_kernel(str(tmp_path / "missing"))


@pytest.mark.parametrize("tool, package", [("make", "make"), ("gcc", "gcc"), ("ld", "binutils")])
def test_missing_tool_names_the_debian_package(monkeypatch, tool, package):
    if not os.path.exists(os.path.join(kbuild.KERNEL_SRC, "Makefile")):
        pytest.skip("kernel_src has no Makefile yet")
    real = kbuild.shutil.which
    monkeypatch.setattr(kbuild.shutil, "which", lambda t: None if t == tool else real(t))
    with pytest.raises(KernelImageError) as e:
        kbuild.ensure_kernel()
    msg = str(e.value)
    assert "`%s` not found" % tool in msg and "`%s`" % package in msg
    assert "\n" not in msg


def test_builds_vmlinux():
    if not os.path.exists(os.path.join(kbuild.KERNEL_SRC, "Makefile")):
        pytest.skip("kernel_src has no Makefile yet")
    path = kbuild.ensure_kernel()
    assert path == kbuild.VMLINUX and os.path.exists(path)
    with open(path, "rb") as f:
        assert f.read(4) == b"\x7fELF"


@pytest.fixture
def installed_tree(tmp_path, monkeypatch):
    """A wheel-style kernel_src: sources, a stamped prebuilt vmlinux, and the
    sources written after the image, as pip extracts them."""
    from machine import ksources
    src = tmp_path / "kernel_src"
    (src / "kernel").mkdir(parents=True)
    vmlinux = src / "vmlinux"
    vmlinux.write_bytes(b"\x7fELF prebuilt")
    (src / "Makefile").write_text("all:\n")
    (src / "kernel" / "kthread.c").write_text("int kthreadd;\n")
    ksources.stamp(str(src))
    os.utime(vmlinux, (1_000_000, 1_000_000))       # older than every source
    monkeypatch.setattr(kbuild, "KERNEL_SRC", str(src))
    monkeypatch.setattr(kbuild, "VMLINUX", str(vmlinux))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return src


def _newest_source(src):
    from machine import ksources
    return max(os.stat(src / rel).st_mtime for rel in ksources.source_files(str(src)))


def test_prebuilt_image_older_than_its_sources_is_touched(installed_tree):
    # else gdb prints "Source file is more recent than executable" at every listing
    path = kbuild.ensure_kernel()
    assert path == kbuild.VMLINUX
    assert os.stat(path).st_mtime >= _newest_source(installed_tree)


def test_read_only_prebuilt_image_is_served_from_a_cache_copy(installed_tree, monkeypatch):
    def refuse(*a, **kw):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(kbuild.os, "utime", refuse)
    path = kbuild.ensure_kernel()
    assert path.startswith(os.environ["XDG_CACHE_HOME"])
    with open(path, "rb") as f:
        assert f.read() == b"\x7fELF prebuilt"
    assert os.stat(path).st_mtime >= _newest_source(installed_tree)
    assert kbuild.ensure_kernel() == path                # made once
