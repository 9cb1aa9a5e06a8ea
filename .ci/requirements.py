"""The requirements pyproject.toml declares, for the Makefile's lock and oldest targets.

    python .ci/requirements.py all      every runtime, test and build requirement, as declared
    python .ci/requirements.py oldest   each of them pinned to its lower bound: ``>=X`` -> ``==X``

``all`` feeds ``make lock`` (the newest releases within these ranges, frozen
into requirements.lock).  ``oldest`` writes the constraints of ``make
test-oldest``; a requirement without a lower bound is left out (it floats),
and so is one whose environment marker does not hold on this interpreter.
Only the standard library is used (tomllib, Python 3.11+; tomli on 3.10).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
# name, extras, specifiers, marker: enough of PEP 508 for what pyproject.toml holds.
REQUIREMENT = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*"
    r"(?P<spec>[^;]*?)\s*(?:;\s*(?P<marker>.+))?$")
LOWER = re.compile(r">=\s*([0-9][^,\s]*)")


def declared() -> list[str]:
    data = tomllib.loads(PYPROJECT.read_text())
    project = data["project"]
    found = list(project.get("dependencies", []))
    for extra in ("test",):
        found += project.get("optional-dependencies", {}).get(extra, [])
    found += data["build-system"]["requires"]
    return found


def _marker_holds(marker: str | None) -> bool:
    if not marker:
        return True
    # The markers pyproject.toml uses compare python_version; evaluated here
    # without the 'packaging' library, which a bare interpreter may lack.
    m = re.fullmatch(r"\s*python_version\s*(<=|>=|<|>|==|!=)\s*['\"]([0-9.]+)['\"]\s*", marker)
    if not m:
        raise SystemExit(f"requirements.py: cannot evaluate the marker {marker!r}")
    here = sys.version_info[:2]
    there = tuple(int(p) for p in m.group(2).split("."))
    return {"<": here < there, "<=": here <= there, ">": here > there,
            ">=": here >= there, "==": here == there, "!=": here != there}[m.group(1)]


def oldest(requirements: list[str]) -> list[str]:
    pins = []
    for line in requirements:
        m = REQUIREMENT.match(line)
        if not m:
            raise SystemExit(f"requirements.py: cannot parse {line!r}")
        if not _marker_holds(m.group("marker")):
            continue
        lower = LOWER.search(m.group("spec"))
        if lower:
            pins.append(f"{m.group('name')}=={lower.group(1)}")
    return pins


def main(argv: list[str]) -> int:
    if argv not in (["all"], ["oldest"]):
        print(__doc__, file=sys.stderr)
        return 2
    requirements = declared()
    print("\n".join(requirements if argv == ["all"] else oldest(requirements)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
