"""Builds the guest kernel on demand.

ensure_kernel(path=None) -> str
  With no path: runs `make -C <project>/kernel_src` quietly (make itself
  decides what is stale) and returns the path of kernel_src/vmlinux.
  With a path: returns it unchanged if the file exists (a user-supplied image
  is never rebuilt).  Raises KernelImageError with one line naming the
  missing Debian package when make/gcc/ld are absent, or with the tail of
  make's output when the build fails.
"""
import os
import shutil
import subprocess

from .errors import KernelImageError

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNEL_SRC = os.path.join(PROJECT_ROOT, "kernel_src")
VMLINUX = os.path.join(KERNEL_SRC, "vmlinux")

_TOOLS = (("make", "make"), ("gcc", "gcc"), ("ld", "binutils"))


def ensure_kernel(path=None) -> str:
    if path is not None:
        if not os.path.exists(path):
            raise KernelImageError("kernel image %s does not exist" % path)
        return path
    if not os.path.exists(os.path.join(KERNEL_SRC, "Makefile")):
        raise KernelImageError("%s has no Makefile: the kernel sources are missing"
                               % KERNEL_SRC)
    for tool, pkg in _TOOLS:
        if shutil.which(tool) is None:
            raise KernelImageError("`%s` not found: install the Debian package `%s` "
                                   "to build the kernel" % (tool, pkg))
    r = subprocess.run(["make", "-s", "-C", KERNEL_SRC], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    if r.returncode != 0:
        tail = r.stdout.decode(errors="replace").strip().splitlines()[-15:]
        raise KernelImageError("`make -C kernel_src` failed:\n" + "\n".join(tail))
    if not os.path.exists(VMLINUX):
        raise KernelImageError("`make -C kernel_src` did not produce %s" % VMLINUX)
    return VMLINUX
