"""bench.signals.handled: installed for the block, restored after, never off the main thread."""

from __future__ import annotations

import signal
import threading

from bench import signals


def _mine(signum, frame):  # pragma: no cover - never delivered
    pass


def test_installed_for_the_block_and_restored_after_even_on_error():
    before = signal.getsignal(signal.SIGTERM)
    try:
        with signals.handled(signal.SIGTERM, _mine) as installed:
            assert installed and signal.getsignal(signal.SIGTERM) is _mine
            raise RuntimeError("inside")
    except RuntimeError:
        pass
    assert signal.getsignal(signal.SIGTERM) is before


def test_an_ignored_signal_stays_ignored_when_asked():
    previous = signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    try:
        with signals.handled(signal.SIGUSR1, _mine, unless_ignored=True) as installed:
            assert not installed and signal.getsignal(signal.SIGUSR1) is signal.SIG_IGN
        with signals.handled(signal.SIGUSR1, _mine) as installed:
            assert installed and signal.getsignal(signal.SIGUSR1) is _mine
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_off_the_main_thread_nothing_is_installed():
    seen = []

    def body():
        with signals.handled(signal.SIGTERM, _mine) as installed:
            seen.append((installed, signal.getsignal(signal.SIGTERM) is _mine))

    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert seen == [(False, False)]
