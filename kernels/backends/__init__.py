"""Backend modules: each maps kernel name -> {variant name: bare core}.

Every module here defines ``CORES`` (a plain dict, the first variant of each
kernel being its default) and ``INPUTS`` ("arrays" or "lists"); the registry in
:mod:`kernels.registry` wraps each core with its spec's checks.
"""
