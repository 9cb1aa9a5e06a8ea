"""Agreement with the reference: run one implementation on a few small sizes.

``python -m kernels`` and :func:`kernels.external.verify` use it; the
benchmark harness checks every case at its own size instead.
"""

from __future__ import annotations

from kernels import registry

#: Sizes every implementation is checked at, per input family.  A built-in
#: kernel promises empty inputs too (n=0); a registered one only the sizes its
#: own ladder covers (:func:`check_sizes`).
CHECK_SIZES = {"vectors": (0, 1, 2, 7, 1001), "matrices": (0, 1, 2, 7, 33)}


def check_sizes(kspec: registry.KernelSpec) -> tuple[int, ...]:
    """The check sizes of ``kspec``: all of its family's for a built-in kernel;
    for a registered one those within its ladder's range, else its smallest size."""
    sizes = CHECK_SIZES["matrices" if kspec.matrix else "vectors"]
    if kspec.origin == "vecbench":
        return sizes
    lo, hi = min(kspec.sizes), max(kspec.sizes)
    return tuple(n for n in sizes if lo <= n <= hi) or (lo,)


def check(impl: registry.Implementation) -> str | None:
    """Run ``impl`` on the check sizes in every layout; describe the first disagreement."""
    kspec = impl.spec
    for layout in kspec.layouts:
        for n in check_sizes(kspec):
            inputs = kspec.inputs(n, layout)
            try:
                result = impl.func(*impl.prepare(inputs))
            except Exception as exc:
                return f"n={n} {layout}: raised {type(exc).__name__}: {exc}"
            problem = kspec.mismatch(result, inputs)
            if problem:
                return f"n={n} {layout}: {problem}"
    return None
