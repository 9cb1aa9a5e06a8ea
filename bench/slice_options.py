"""The grid's slice options, declared once for ``vecbench run`` and the pytest plugin.

``vecbench run --kernel ...`` (bench/cli.py) forwards them to the plugin's
``--vb-kernel ...`` (bench/plugin.py); both take their metavar and help from
here.  Nothing is imported, so that ``vecbench --help`` stays quick.
"""

from __future__ import annotations

#: name -> (metavar, help); --kernel, --backend and --variant are comma lists
#: and repeatable, --sizes is one specification.
SLICE_OPTIONS: dict[str, tuple[str, str]] = {
    "kernel": ("K[,K...]", "only these kernels (repeatable)"),
    "backend": ("B[,B...]", "only these backends: python, numpy, numba, cython (repeatable)"),
    "variant": ("V[,V...]", "only these variants, e.g. loop,vectorized (repeatable)"),
    "sizes": ("SPEC", "'1e3..1e7': the profile's sizes within that range; "
                      "'1000,4096,1e6': exactly these sizes"),
}
#: The slice options that may be given more than once (their values add up).
REPEATABLE = ("kernel", "backend", "variant")
