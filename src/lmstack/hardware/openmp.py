"""One OpenMP worker team at a time: hand back a thread's idle workers so a busy thread runs at full speed.

torch's CPU kernels run on OpenMP (GNU libgomp in the Linux wheels), and libgomp gives every thread
that starts parallel work a team of its own that lives as long as that thread. A server has several
such threads: the one that loaded the model, an engine's step loop, the threads embedding requests
run on. Once libgomp manages more threads than the process has CPUs it stops spinning between
parallel regions and puts workers to sleep after a few hundred iterations, so each of a decode
step's ~500 small parallel regions pays a futex wake-up. Measured on 2 cores (125M Llama, bf16,
2 torch threads, decode forward on a thread other than the one that loaded the model): 13 ms per
one-token step and 22 ms at 16 rows; after the loading thread released its team, 8.2 ms and
14.9 ms — the same as running everything on one thread.

`release_openmp_workers()` ends the calling thread's team (`omp_pause_resource_all`, OpenMP 5.0);
its next parallel region starts a new one, which costs a thread start (tens of microseconds).
Threads call it when they stop doing torch work for a while: the thread that starts an engine,
an engine loop going idle, an embedding request's thread after its forward. Where torch does not
use libgomp (macOS, other OpenMP runtimes) it does nothing.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)

_OMP_PAUSE_HARD = 2  # omp_pause_resource_t: release the threads and everything else


@functools.cache
def _libgomp() -> ctypes.CDLL | None:
    """The libgomp torch runs on, or None.

    Other wheels bring their own renamed copies (scikit-learn's `libgomp-<hash>.so.1.0.0`), each a
    separate runtime with its own teams; pausing one of those would leave torch's team alive. So
    torch's own copy (in torch/lib) comes first, then any `libgomp.so.1` (a torch built against
    the system's), and a renamed copy never.
    """
    if not sys.platform.startswith("linux"):
        return None
    import torch

    torch_lib = str(Path(torch.__file__).parent / "lib") + "/"
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "libgomp" in line and "/" in line}
    except OSError:
        return None
    for path in sorted((p for p in paths if Path(p).name == "libgomp.so.1"), key=lambda p: not p.startswith(torch_lib)):
        try:
            lib = ctypes.CDLL(path)
            lib.omp_pause_resource_all.argtypes = [ctypes.c_int]
            lib.omp_pause_resource_all.restype = ctypes.c_int
            return lib
        except (OSError, AttributeError):  # an old libgomp without OpenMP 5.0's pause
            continue
    return None


def release_openmp_workers() -> bool:
    """End the calling thread's OpenMP worker team, if it has one; whether libgomp took the call.

    Safe while other threads run parallel work (only the caller's team ends); call it outside any
    parallel region, which Python code always is.
    """
    lib = _libgomp()
    if lib is None:
        return False
    rc = lib.omp_pause_resource_all(_OMP_PAUSE_HARD)
    if rc != 0:
        log.debug("omp_pause_resource_all returned %d", rc)
    return rc == 0
