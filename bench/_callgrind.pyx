"""Callgrind's client requests, for the instruction-count gate (bench/instructions.py).

Valgrind's tool callgrind runs a program on a simulated CPU and counts what
it executes.  Started with ``--instr-atstart=no`` it counts nothing until the
program asks, through the client requests of ``<valgrind/callgrind.h>``
(macros that are no-ops outside valgrind).  :func:`measure` wraps one
benchmark's calls in them, so interpreter start-up, imports, JIT compilation,
input preparation and the correctness check are never counted.

The header comes with valgrind (Debian: the ``valgrind`` package).  setup.py
compiles this module with ``VECBENCH_CALLGRIND`` 1 where the header is found,
0 where it is not; :data:`HEADERS` says which, and the instruction mode
refuses to run without it.
"""

cdef extern from *:
    """
    #ifndef VECBENCH_CALLGRIND
    #define VECBENCH_CALLGRIND 0
    #endif
    #if VECBENCH_CALLGRIND
    #include <valgrind/callgrind.h>
    static int vb_running(void) { return (int)RUNNING_ON_VALGRIND; }
    static void vb_start(void) { CALLGRIND_START_INSTRUMENTATION; }
    static void vb_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; }
    static void vb_zero(void) { CALLGRIND_ZERO_STATS; }
    static void vb_dump(const char *label) { CALLGRIND_DUMP_STATS_AT(label); }
    #else
    static int vb_running(void) { return 0; }
    static void vb_start(void) {}
    static void vb_stop(void) {}
    static void vb_zero(void) {}
    static void vb_dump(const char *label) { (void)label; }
    #endif
    """
    int VECBENCH_CALLGRIND
    int vb_running()
    void vb_start()
    void vb_stop()
    void vb_zero()
    void vb_dump(const char *label)

#: Whether this module was built with valgrind's headers (else every request is a no-op).
HEADERS = bool(VECBENCH_CALLGRIND)


def running_on_valgrind():
    """Whether this process runs under valgrind (always False without :data:`HEADERS`)."""
    return vb_running() != 0


def measure(func, tuple args, int calls, str label):
    """Count ``calls`` calls of ``func(*args)`` into one callgrind dump named ``label``.

    Instrumentation is switched on (callgrind then starts with an empty
    simulated cache), ``func`` is called once to warm the caches, the costs
    are zeroed, ``func`` is called ``calls`` times, and the costs since the
    zeroing are dumped as a part whose trigger is ``label``; then
    instrumentation is switched off again, also when ``func`` raises.
    Outside valgrind this just makes the calls.

    Parameters
    ----------
    func
        The callable to count.
    args
        Its arguments, prepared beforehand.
    calls
        Calls counted, at least 1.
    label
        The dump's name: the benchmark's id (ASCII).
    """
    if calls < 1:
        raise ValueError(f"calls must be at least 1, got {calls}")
    cdef bytes name = label.encode("ascii")
    cdef int i
    vb_start()
    try:
        func(*args)
        vb_zero()
        for i in range(calls):
            func(*args)
        vb_dump(name)
    finally:
        vb_stop()
