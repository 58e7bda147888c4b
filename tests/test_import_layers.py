"""Imports between the packages point one way (docs/ARCHITECTURE.md, "Packages").

    harness/ -> (runs the stub as a process)
    cli.py (the composition root) -> kernelaware/ -> the stub -> rsp/
    machine/ knows nothing of gdbstub

Every import in every module, lazy ones inside functions included, is read
with `ast` and resolved to the module it names; an import from a layer to one
it may not use fails the test with the importing file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent

# layer -> the layers its modules may import (besides the stdlib and libraries)
MAY_IMPORT = {
    "rsp": {"rsp"},                                   # pure protocol: no I/O, no machine
    "stub": {"stub", "rsp", "machine"},
    "kernelaware": {"kernelaware", "stub", "rsp", "machine"},
    "entry": {"entry", "kernelaware", "stub", "rsp", "machine"},
    "harness": {"harness", "rsp", "machine"},         # starts the stub as a process
    "machine": {"machine"},
}

# Wrong-way imports that exist, each with why; declaring capabilities and
# registries (issue 14 item 2) emptied it.  An entry that is no longer needed
# fails the test too, so this list only shrinks.
ALLOWED = set()


def layer_of(module: str) -> Optional[str]:
    parts = module.split(".")
    if parts[0] == "machine":
        return "machine"
    if parts[0] != "gdbstub":
        return None  # stdlib or a library
    if len(parts) > 1 and parts[1] in ("rsp", "kernelaware", "harness"):
        return parts[1]
    if len(parts) > 1 and parts[1] in ("cli", "__main__"):
        return "entry"
    return "stub"  # gdbstub/*.py, handlers/, the package's __init__


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(source: str, module: str, is_package: bool) -> Iterator[Tuple[str, int]]:
    """(imported module, line) for every import statement in the source."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module
            if node.module is None:  # `from . import x`: x is a submodule
                for alias in node.names:
                    yield f"{prefix}.{alias.name}", node.lineno
            else:
                yield prefix, node.lineno


def violations(source: str, module: str, is_package: bool = False) -> List[str]:
    src_layer = layer_of(module)
    out = []
    for target, line in imports(source, module, is_package):
        dst_layer = layer_of(target)
        if dst_layer is None or dst_layer in MAY_IMPORT[src_layer]:
            continue
        out.append((module, target, line, src_layer, dst_layer))
    return out


def project_modules():
    for top in ("gdbstub", "machine"):
        for path in sorted((ROOT / top).rglob("*.py")):
            yield path, module_name(path)


def test_imports_point_one_way():
    found = set()
    bad = []
    for path, module in project_modules():
        for mod, target, line, src, dst in violations(path.read_text(), module,
                                                      path.name == "__init__.py"):
            hit = next((a for a in ALLOWED if a[0] == mod and target.startswith(a[1])), None)
            if hit:
                found.add(hit)
                continue
            bad.append(f"{path.relative_to(ROOT)}:{line}: {src} imports {dst} ({target})")
    assert not bad, "imports pointing the wrong way:\n" + "\n".join(bad)
    stale = ALLOWED - found
    assert not stale, f"allow-list entries no longer needed, remove them: {sorted(stale)}"


def test_the_check_catches_a_wrong_way_import():
    # the protocol importing the stub, the stub importing the harness, a
    # handler importing kernel awareness (relative and lazy), the machine
    # importing gdbstub: each is reported
    cases = [
        ("from ..dispatch import Context\n", "gdbstub.rsp.packet", "gdbstub.dispatch"),
        ("from .harness.session import run\n", "gdbstub.server", "gdbstub.harness.session"),
        ("def f():\n    from ..kernelaware import oskernel\n", "gdbstub.handlers.base",
         "gdbstub.kernelaware"),
        ("import gdbstub.rsp.regs\n", "machine.machine", "gdbstub.rsp.regs"),
    ]
    for source, module, target in cases:
        assert [v[1] for v in violations(source, module)] == [target], (source, module)
    # and the directions the layers allow are not
    assert not violations("from ..rsp import commands as C\n", "gdbstub.handlers.base")
    assert not violations("from ..target import Target\n", "gdbstub.kernelaware.oskernel")
    assert not violations("from . import regs\n", "gdbstub.rsp.tdesc")
