"""The project uses only documented Numba and llvmlite APIs (the house rule).

Scans every module of the packages the wheel carries: what it imports from
numba and llvmlite, and every attribute it reads off them, against the names
their documentation gives.  A new use of an internal (``numba.core...``, a
dispatcher's ``targetoptions``) fails here until it is replaced or the name
is shown to be documented and added below.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bench", "kernels", "reports")

#: Imports from numba and llvmlite, as "module" or "module.name".
ALLOWED_IMPORTS = {"numba", "numba.types", "numba.extending.intrinsic",
                   "numba.extending.is_jitted", "numba.core.event", "llvmlite.ir",
                   "llvmlite.binding"}
#: Attributes read off the numba module or llvmlite.binding (imported as llvm).
ALLOWED_ATTRIBUTES = {
    "numba": {"__version__", "config", "extending", "get_num_threads", "njit", "prange",
              "set_num_threads", "threading_layer", "types"},
    "llvm": {"get_host_cpu_features", "get_host_cpu_name", "load_library_permanently"},
}
#: Dispatcher attributes Numba does not document (read them through numba_options).
FORBIDDEN_ATTRIBUTES = {"targetoptions", "overloads", "_cache", "typingctx", "targetctx",
                        "cache_hits", "cache_misses"}


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_documented_numba_and_llvmlite(path):
    tree = ast.parse(path.read_text(), str(path))
    imported, attributes, forbidden = set(), set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id in ALLOWED_ATTRIBUTES:
                attributes.add((node.value.id, node.attr))
            if node.attr in FORBIDDEN_ATTRIBUTES:
                forbidden.add(node.attr)
    ours = {n for n in imported if n.split(".")[0] in ("numba", "llvmlite")}
    assert ours <= ALLOWED_IMPORTS, ours - ALLOWED_IMPORTS
    unknown = {f"{mod}.{attr}" for mod, attr in attributes
               if attr not in ALLOWED_ATTRIBUTES[mod]}
    assert not unknown, unknown
    assert not forbidden, forbidden


def test_the_scan_sees_an_internal_use(tmp_path):
    """The check above fails on what it is meant to catch."""
    bad = tmp_path / "bad.py"
    bad.write_text("from numba.core.dispatcher import Dispatcher\n"
                   "import numba\nx = numba.core\ny = f.targetoptions\n")
    with pytest.raises(AssertionError):
        test_only_documented_numba_and_llvmlite(bad)
