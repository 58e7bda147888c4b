"""Build hook (the rest is setup.cfg): a wheel carries, beside the packages and
laid out as in a checkout, the kernel sources (gdb reads them for source
lines), a vmlinux built from exactly those sources and stamped with their
digest (machine/ksources.py; so a machine without gcc can start a lab), and
the gdb helpers (gdb_scripts/, which the labs source)."""
import importlib.util
import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def _ksources():
    # by path: importing the machine package needs unicorn, not there at build time
    spec = importlib.util.spec_from_file_location(
        "_ksources", os.path.join(HERE, "machine", "ksources.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class BuildPyWithKernel(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return      # an editable install uses the checkout's kernel_src as it is
        ks = _ksources()
        src = os.path.join(self.build_lib, "kernel_src")
        shutil.rmtree(src, ignore_errors=True)
        shutil.copytree(os.path.join(HERE, "kernel_src"), src,
                        ignore=lambda d, names: [n for n in names if n in ks.NOT_SOURCES])
        scripts = os.path.join(self.build_lib, "gdb_scripts")
        shutil.rmtree(scripts, ignore_errors=True)
        shutil.copytree(os.path.join(HERE, "gdb_scripts"), scripts,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc",
                                                     "constants.py"))
        # after gdb_scripts: the kernel build writes gdb_scripts/kt/constants.py
        subprocess.run(["make", "-s", "-C", src], check=True)
        shutil.rmtree(os.path.join(src, "build"))      # objects: not in the wheel
        ks.stamp(src)


setup(cmdclass={"build_py": BuildPyWithKernel})
