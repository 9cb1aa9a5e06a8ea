"""``python -m kernels``: the kernel x backend x variant matrix, checked.

Prints, for every (kernel, backend, variant), whether it is available (or the
import error) and whether it agrees with the reference on a few sizes and
layouts; then, per kernel, the backends and loop variants it lacks; then how
the compiled backends were built and the library versions.  Kernels of the
entry point group ``vecbench.kernels`` are included, and those of every
``--kernels SOURCE``; as with ``vecbench run``, the matrix then holds only the
kernels of those sources unless ``--kernel`` names others (the list of what
each kernel lacks always holds every kernel).

Exit status 1 when any available implementation disagrees (or raises), or a
built-in kernel lacks a backend or loop variant (``--require-all``: or a
built-in kernel's backend is unavailable); a kernel from outside vecbench may
lack backends.  Exit status 2, with one line, for a module of kernels that
cannot be used.
"""

from __future__ import annotations

import argparse
import sys

from kernels import about, external, registry, simd
from kernels.agreement import CHECK_SIZES, check
from kernels.specs import BUILTIN_KERNELS, SPECS

__all__ = ["CHECK_SIZES", "check", "main"]

DESCRIPTION = ("The kernel x backend x variant matrix, each implementation checked against "
               "the reference, and what each kernel lacks.")
EXAMPLES = """examples:
  {prog}                                 every kernel, checked
  {prog} --kernel magnitude,matmul       these kernels only
  {prog} --kernels examples/scale2.py    the kernels of a module of one's own
  {prog} --kernels mypackage.kernels     ... or of an importable module
"""


def lacks_line(kernel: str) -> str:
    """What ``kernel`` lacks, on one line: ``"cython (no implementation); ..."`` or
    ``"nothing"``."""
    lacking = registry.lacking(kernel)
    return "; ".join(f"{b} ({why})" for b, why in lacking.items()) or "nothing"


def main(argv: list[str] | None = None, prog: str = "python -m kernels") -> int:
    """Print the matrix; return the exit status (see the module docstring).

    ``prog`` names the command in the help and in error lines (``vecbench kernels``).
    """
    parser = argparse.ArgumentParser(
        prog=prog, description=DESCRIPTION, epilog=EXAMPLES.format(prog=prog),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--require-all", action="store_true",
                        help="exit 1 also when a backend of a built-in kernel is unavailable")
    parser.add_argument("--kernels", action="append", default=[], metavar="SOURCE",
                        help="a .py file or an importable module of one's own kernels "
                             "(kernels.external); repeatable; without --kernel, only "
                             "their kernels are checked")
    parser.add_argument("--kernel", action="append", default=[], metavar="K[,K...]",
                        help="check only these kernels (default: every kernel, or those "
                             "of --kernels)")
    args = parser.parse_args(argv)
    try:
        simd.requested()
    except simd.SimdSettingError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    try:
        external.load_entry_points()
        defined = [s.name for source in args.kernels for s in external.load(source)]
    except external.ExternalKernelError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    named = [k.strip() for text in args.kernel for k in text.split(",") if k.strip()]
    unknown = [k for k in named if k not in SPECS]
    if unknown:
        print(f"{prog}: error: --kernel: unknown kernel {unknown[0]!r}; known: "
              f"{', '.join(SPECS)}", file=sys.stderr)
        return 2
    chosen = set(named or (defined if args.kernels else SPECS))

    rows = [r for r in registry.available() if r.kernel in chosen]
    header = ("kernel", "backend", "variant", "SIMD path", "available", "agrees with reference")
    table = []
    disagreements = unavailable = builtin_unavailable = 0
    for row in rows:
        builtin_unavailable += row.kernel in BUILTIN_KERNELS and not row.ok
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
    print(f"\nchecked at {sizes}, in every layout each kernel takes (a kernel from "
          "outside vecbench at those within its ladder)")

    incomplete = registry.missing([k for k in BUILTIN_KERNELS if k in chosen])
    for problem in incomplete:
        print(f"incomplete: {problem}")
    print("\nkernels, where they come from and what they lack:")
    width = max(len(k) for k in SPECS)
    for kernel, kspec in SPECS.items():
        print(f"  {kernel:<{width}}  {kspec.origin}: lacks {lacks_line(kernel)}")
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
    extra = len(SPECS) - len(BUILTIN_KERNELS)
    print(f"\n{total - unavailable} of {total} available, {disagreements} disagree, "
          f"{unavailable} unavailable, {len(chosen)} of {len(SPECS)} kernels checked"
          + (f" ({extra} from outside vecbench)" if extra else ""))
    if disagreements or incomplete or (args.require_all and builtin_unavailable):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
