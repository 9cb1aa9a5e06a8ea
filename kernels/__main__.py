"""``python -m kernels``: the kernel x backend x variant matrix, checked.

Prints, for every (kernel, backend, variant), whether it is available (or the
import error) and whether it agrees with the reference on a few sizes and
layouts; then how the compiled backends were built and the library versions.
Exit status 1 when any available implementation disagrees (or raises).
"""

from __future__ import annotations

import argparse
import sys

from kernels import about, registry, simd
from kernels.specs import SPECS

CHECK_SIZES = {"vectors": (0, 1, 2, 7, 1001), "matrices": (0, 1, 2, 7, 33)}


def check(impl: registry.Implementation) -> str | None:
    """Run ``impl`` on the check sizes in every layout; describe the first disagreement."""
    kspec = impl.spec
    sizes = CHECK_SIZES["vectors" if kspec.params[0].kind == "vector" else "matrices"]
    for layout in kspec.layouts:
        for n in sizes:
            inputs = kspec.inputs(n, layout)
            try:
                result = impl.func(*impl.prepare(inputs))
            except Exception as exc:
                return f"n={n} {layout}: raised {type(exc).__name__}: {exc}"
            problem = kspec.mismatch(result, inputs)
            if problem:
                return f"n={n} {layout}: {problem}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kernels", description=__doc__.split("\n")[0])
    parser.add_argument("--require-all", action="store_true",
                        help="exit 1 also when a backend is unavailable")
    args = parser.parse_args(argv)
    try:
        simd.requested()
    except simd.SimdSettingError as exc:
        print(f"python -m kernels: error: {exc}", file=sys.stderr)
        return 2

    rows = registry.available()
    header = ("kernel", "backend", "variant", "SIMD path", "available", "agrees with reference")
    table = []
    disagreements = unavailable = 0
    for row in rows:
        if registry.backend_error(row.backend) is not None:
            unavailable += 1
            table.append((row.kernel, row.backend, row.variant, "", "no", f"-- {row.error}"))
            continue
        impl = registry.implementation(row.kernel, row.backend, row.variant)
        unavailable += not row.ok
        problem = check(impl) if impl.runnable else None
        disagreements += problem is not None
        agrees = ("not run" if not impl.runnable else "yes" if problem is None
                  else f"NO: {problem}")
        table.append((row.kernel, row.backend, row.variant, impl.path or "",
                      "yes" if row.ok else f"no: {row.error}", agrees))
    widths = [max(len(str(r[i])) for r in [header, *table]) for i in range(len(header) - 1)]
    for r in [header, *table]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
    sizes = ", ".join(f"{k} n={v}" for k, v in CHECK_SIZES.items())
    print(f"\nchecked at {sizes}, in every layout each kernel takes")

    for problem in registry.missing():
        print(f"incomplete: {problem}")
    record = simd.record()
    print(f"\nSIMD path: {record['path']} ({record['setting']}); "
          + "; ".join(f"{p}: {why}" for p, why in record["paths"].items()))
    print("\nbuild:")
    for backend, info in registry.build_info().items():
        for key, value in info.items():
            print(f"  {backend:<7} {key:<16} {value}")
    print("\nlibraries:")
    for key, value in about.library_versions().items():
        print(f"  {key:<24} {value}")
    for pool in about.blas_info():
        print("  " + ", ".join(f"{k}={v}" for k, v in pool.items()))

    total = len(rows)
    print(f"\n{total - unavailable} of {total} available, {disagreements} disagree, "
          f"{unavailable} unavailable, {len(SPECS)} kernels")
    if disagreements or registry.missing() or (args.require_all and unavailable):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
