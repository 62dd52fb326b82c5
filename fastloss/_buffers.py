"""Large outputs whose memory is handed out again once nothing refers to them.

A fresh array of many megabytes costs its page faults on first write: the operating system zeroes each page as
a thread first touches it. On this machine a fresh 40 MB gradient (value_and_grad at 1e7 float32) cost 2-11 ms of faults on
two threads, where the pass itself takes 7 ms (the benchmarks' ``fastloss-out`` contestant writes into a reused
array). ``fresh_array`` hands out arrays of 4 MiB or more as views of a ``_Lease``; when the last array that refers
to a lease dies, its memory becomes the spare, and the next request of the same size gets it, already faulted in.

Only memory that nothing refers to is reused: the lease's ``__del__`` runs when its last view (a derived view, a
torch tensor sharing it, ...) is gone. One spare per size, two at most (a gradient and its per-row values), the
newest kept: a loop that holds one gradient while computing the next alternates between two buffers, and at most
two buffers stay allocated between calls.
"""

from __future__ import annotations

import math

import numpy as np

# Below this, an allocation is cheap and malloc reuses freed memory itself.
SPARE_MIN_BYTES = 1 << 22
# The arrays start on a cache line (malloc's large blocks start 16 bytes past a page).
ALIGNMENT = 64

MAX_SPARES = 2  # a gradient and its per-row values

_spares: dict[int, np.ndarray] = {}  # size -> a uint8 buffer no live array refers to


class _Lease:
    """The base object of the arrays made from one buffer (NumPy keeps it as their ``base``)."""

    __slots__ = ("memory", "__array_interface__")

    def __init__(self, memory: np.ndarray, shape: tuple[int, ...], dtype: np.dtype):
        self.memory = memory
        start = memory.ctypes.data
        start += -start % ALIGNMENT
        self.__array_interface__ = {"data": (start, False), "shape": shape, "typestr": dtype.str, "version": 3}

    def __del__(self):
        try:
            _spares.pop(self.memory.nbytes, None)
            _spares[self.memory.nbytes] = self.memory  # the newest last
            while len(_spares) > MAX_SPARES:
                _spares.pop(next(iter(_spares)), None)  # the oldest
        except Exception:  # another thread trimmed first (fewer spares, never a shared one), or shutdown
            pass


def fresh_array(shape: tuple[int, ...], dtype) -> np.ndarray:
    """np.empty(shape, dtype); from 4 MiB on, the memory of a spare of exactly this size where there is one."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize  # np.prod took ~2 µs, most of a small call's extra cost
    if nbytes < SPARE_MIN_BYTES:
        return np.empty(shape, dtype=dtype)
    memory = _spares.pop(nbytes + ALIGNMENT, None)  # one atomic step: two threads never take the same buffer
    if memory is None:
        memory = np.empty(nbytes + ALIGNMENT, dtype=np.uint8)
    return np.asarray(_Lease(memory, tuple(shape), dtype))
