"""Backend modules: each maps kernel name -> {variant name: bare core}.

Every module here defines ``CORES`` (a plain dict, the first variant of each
kernel being its default), ``INPUTS`` ("arrays" or "lists") and ``empty(x)``,
the cheapest call into the backend, whose timing is the backend's per-call
overhead; the registry in :mod:`kernels.registry` wraps each core with its
spec's checks.
"""
