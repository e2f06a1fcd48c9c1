"""Keep freed memory in the process (glibc), so chunked CPU training reuses it.

Measured on MIND-small shapes (docs/benchmarks.md, "Long-history training"): a NAML step
spent about 5 of its 8 CPU seconds in the kernel, faulting in fresh pages (about 1.7
million page faults a step), because glibc hands every block of 32 MiB or more back to the
system when it is freed and maps a new one for the next tensor. With the item encoder in
pieces (``TrainSettings.encode_chunk_rows``) every tensor of a step is smaller than that;
`keep_freed_memory` then sets glibc's thresholds explicitly so that the freed pieces stay
in the heap for the next piece instead of being trimmed back to the system.

It changes where memory comes from, never a number. It is process-wide (it is how the
allocator of this process behaves, like a thread count); it does nothing where the C
library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util

# mallopt parameters (glibc <malloc.h>)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc's largest: blocks below come from the heap
TRIM_THRESHOLD_BYTES = 1024 * 1024 * 1024  # free heap top kept before trimming


def keep_freed_memory(
    mmap_threshold: int = MMAP_THRESHOLD_BYTES, trim_threshold: int = TRIM_THRESHOLD_BYTES
) -> bool:
    """Set glibc's mmap and trim thresholds; True when both were accepted."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(
        mallopt(M_TRIM_THRESHOLD, trim_threshold)
    )
