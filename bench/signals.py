"""A signal handler for the length of a block, restored after it."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def handled(signum: int, handler: Callable[[int, Any], Any],
            unless_ignored: bool = False) -> Iterator[bool]:
    """Install ``handler`` for ``signum`` during the block; restore the previous one.

    Yields whether it was installed: not outside the main thread (Python
    handles signals there only), nor, with ``unless_ignored``, where the
    signal is ignored (a background job's SIGINT).
    """
    if unless_ignored and signal.getsignal(signum) is signal.SIG_IGN:
        yield False
        return
    try:
        previous = signal.signal(signum, handler)
    except ValueError:  # not the main thread
        yield False
        return
    try:
        yield True
    finally:
        signal.signal(signum, previous)
