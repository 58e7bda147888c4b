"""What a non-editable install carries: every lab file and the clock's C
source must be package data (setup.cfg), not only present in the clone."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _data_files(package):
    base = os.path.join(ROOT, package)
    for dirpath, dirnames, files in os.walk(base):
        dirnames[:] = [d for d in dirnames if not d.startswith(("_build", "__pycache__"))]
        for f in files:
            if not f.endswith((".py", ".pyc", ".so")):
                yield os.path.relpath(os.path.join(dirpath, f), ROOT)


def test_build_py_copies_every_lab_file_and_the_clock_source(tmp_path):
    # build_py is what a wheel is made of; it needs no network and no `wheel`.
    subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q",
                    "build_py", "--build-lib", str(tmp_path)],
                   cwd=ROOT, check=True, capture_output=True)
    files = list(_data_files("labs"))
    key = [w for w in files if os.sep + "key" + os.sep in w]
    wanted = [w for w in files if w not in key] + ["machine/_clock.c", "machine/_dirty.c",
                                                   "machine/_mmu.c"]
    assert any(w.endswith("grading.json") for w in wanted)
    missing = [w for w in wanted if not (tmp_path / w).is_file()]
    assert not missing, f"not package data (setup.cfg [options.package_data]): {missing}"
    # The instructor kits stay out of what a student installs.
    assert any(w.endswith("reference.gdb") for w in key)
    shipped = [w for w in key if (tmp_path / w).exists()]
    assert not shipped, f"instructor key files in the student package: {shipped}"
