"""Builds the guest kernel on demand.

ensure_kernel(path=None) -> str
  With no path: runs `make -C <project>/kernel_src` quietly (make itself
  decides what is stale) and returns the path of kernel_src/vmlinux.
  With a path: returns it unchanged if the file exists (a user-supplied image
  is never rebuilt).  Raises KernelImageError with one line naming the
  missing Debian package when make/gcc/ld are absent, or with the tail of
  make's output when the build fails.

build(src_dir) -> str
  `make -C src_dir` for any kernel tree with a Makefile that makes
  src_dir/vmlinux (kernel_src, a copy of it, a user's own), under a lock so
  parallel test workers do not build one tree at once.
"""
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile

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
    return build(KERNEL_SRC)


def build(src_dir) -> str:
    src_dir = os.path.abspath(src_dir)
    if not os.path.exists(os.path.join(src_dir, "Makefile")):
        raise KernelImageError("%s has no Makefile: the kernel sources are missing"
                               % src_dir)
    for tool, pkg in _TOOLS:
        if shutil.which(tool) is None:
            raise KernelImageError("`%s` not found: install the Debian package `%s` "
                                   "to build the kernel" % (tool, pkg))
    name = os.path.basename(src_dir)
    key = hashlib.sha1(src_dir.encode()).hexdigest()[:12]
    with open(os.path.join(tempfile.gettempdir(), f"kthread-kbuild-{key}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        r = subprocess.run(["make", "-s", "-C", src_dir], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
    if r.returncode != 0:
        tail = r.stdout.decode(errors="replace").strip().splitlines()[-15:]
        raise KernelImageError("`make -C %s` failed:\n" % name + "\n".join(tail))
    vmlinux = os.path.join(src_dir, "vmlinux")
    if not os.path.exists(vmlinux):
        raise KernelImageError("`make -C %s` did not produce %s" % (name, vmlinux))
    return vmlinux
