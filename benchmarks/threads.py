"""When is a second thread worth waking? Times the first call after an idle pause, serial against parallel.

    python benchmarks/threads.py            # table on stdout (medians, µs)

A loss called once per training step finds the OpenMP workers asleep: with libgomp's default wait policy
(OMP_WAIT_POLICY unset) the first parallel region after ~20 ms of idle costs milliseconds (PERFORMANCE.md), while
back-to-back calls (what pytest-benchmark times) find them spinning. fastloss/_engine.py's PARALLEL_MIN_ELEMENTS
is chosen from the "after idle" columns of this table: the smallest size where two threads win there too.
Times the in-process fastloss (installed, or an in-place build with FASTLOSS_ALLOW_SOURCE_TREE=1 on PYTHONPATH).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import fastloss
from fastloss import _engine

SIZES = [1 << s for s in range(14, 24)]
PAUSE_S = 0.05  # longer than libgomp's spin time (GOMP_SPINCOUNT, ~0.3 ms busy then futex sleep)


def workloads(n, rng):
    y = rng.integers(0, 2, size=(n // 8, 8)).astype(np.float32)
    p = rng.uniform(1e-4, 1 - 1e-4, size=(n // 8, 8)).astype(np.float32)
    z = rng.normal(0.0, 3.0, size=(n // 8, 8)).astype(np.float32)
    return {
        "bce probs": lambda t: fastloss.binary_crossentropy(y, p, n_threads=t),
        "bce logits": lambda t: fastloss.binary_crossentropy(y, z, from_logits=True, n_threads=t),
        "mse": lambda t: fastloss.mean_squared_error(y, p, n_threads=t),
    }


def timed(call, threads, pause, rounds):
    samples = []
    for _ in range(rounds):
        if pause:
            time.sleep(pause)
        start = time.perf_counter()
        call(threads)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    saved = _engine.PARALLEL_MIN_ELEMENTS
    _engine.PARALLEL_MIN_ELEMENTS = 0  # let n_threads decide at every size
    rng = np.random.default_rng(0)
    t = args.threads
    print(f"# first call after {PAUSE_S * 1e3:.0f} ms idle vs back to back, median µs; {t} threads vs 1")
    print(f"| loss | elements | 1 thread idle | {t} threads idle | 1 thread hot | {t} threads hot |")
    print("|---|---:|---:|---:|---:|---:|")
    try:
        for n in SIZES:
            for name, call in workloads(n, rng).items():
                call(1), call(t)  # first-touch, caches
                row = [timed(call, 1, PAUSE_S, args.rounds), timed(call, t, PAUSE_S, args.rounds),
                       timed(call, 1, 0, args.rounds), timed(call, t, 0, args.rounds)]
                print(f"| {name} | {n} | " + " | ".join(f"{v:.0f}" for v in row) + " |", flush=True)
    finally:
        _engine.PARALLEL_MIN_ELEMENTS = saved


if __name__ == "__main__":
    main()
