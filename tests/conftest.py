import os
import shutil
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, ROOT)


@pytest.fixture(scope="session")
def kernel():
    """kernel_src/vmlinux, built if missing or stale (path relative to the project root)."""
    from machine.kbuild import ensure_kernel
    return os.path.relpath(ensure_kernel(), ROOT)


@pytest.fixture(scope="session")
def gdb():
    path = shutil.which("gdb")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("gdb is missing on CI: .ci/run must install it")
        pytest.skip("gdb is not installed (Debian: apt-get install gdb)")
    return path
