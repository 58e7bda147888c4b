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
