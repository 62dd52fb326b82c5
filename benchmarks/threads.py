"""When is a second thread worth waking? Times a call after a pause since the last parallel region, 2 threads vs 1.

    python benchmarks/threads.py                      # pause table on stdout (medians, µs)
    python benchmarks/threads.py --sizes 21 23        # the idle threshold: sizes 2^21 .. 2^23
    python benchmarks/threads.py --wake               # the first parallel call after the process slept

Times the in-process fastloss (installed, or an in-place build with FASTLOSS_ALLOW_SOURCE_TREE=1 on PYTHONPATH).
Each sample: a parallel call of the same workload (so its workers ran), then a pause measured from the moment
that call returned, then the timed call on 1 or on 2 threads. Pauses below 1 ms are busy waits (time.sleep is
coarse); longer ones sleep (the process idles, as a training loop waiting for data does) and busy-wait the rest.

What it showed on the shared 2-vCPU KVM VM (AMD EPYC, libgomp, OMP_WAIT_POLICY unset; medians of 21, µs, 2
threads / 1 thread), behind the thread rule in fastloss/_engine.py (PARALLEL_MIN_ELEMENTS, WARM_MIN_ELEMENTS,
WARM_WINDOW_S, PROMPT_WAIT_S):

    pause after the last parallel call:  0          20 µs      300 µs     1 ms       3 ms       10 ms      50 ms
    bce probs float32 2^15                33 / 50    26 / 38    44 / 57    53 / 70    137 / 152  294 / 231  2088 / 231
    bce logits float64 2^15               88 / 152   87 / 150   102 / 164  121 / 183  184 / 248  380 / 317  2134 / 307
    mse float32 2^15                      12 / 15    12 / 16    13 / 17    22 / 22    73 / 67    302 / 206  5764 / 462
    bce logits float64 2^17               239 / 461  238 / 459  241 / 462  248 / 467  275 / 501  461 / 683  5618 / 650
    bce probs float32 2^19                294 / 508  292 / 507  297 / 510  281 / 520  331 / 623  540 / 901  5539 / 766
    bce logits float64 2^20               2159/4566  2195/4603  2157/4542  1938/3745  2139/4348  2313/4680  13949/4712

- libgomp's worker spins GOMP_SPINCOUNT (300000) PAUSEs after a region, ~7.5 ms of CPU here (its /proc
  schedstat), then sleeps on a futex. Up to 1 ms after the last parallel call returned, two threads cost what
  they cost back to back (0.52-0.55x one thread from 2^17 to 2^20); at 3 ms they still win but now and then
  pay a scheduler slice (~8 ms); at 10 ms the gain is gone; at 50 ms the wake-up costs 2-6 ms at every size;
- two warm threads beat one from two blocks (2^15 elements) on, MSE included; a single block (2^14) runs
  serially whatever n_threads says;
- --wake: the first parallel call after 60 ms of sleep costs 4-8 ms (16 ms at 2^21 float64 logits, whose serial
  call takes 9 ms), and as much after 20 ms of serial calls: the woken worker often lands on the caller's CPU
  (when the other core is busy) and waits out the caller's own barrier spin. So a run of serial calls says
  nothing about the workers; only a parallel call whose caller did not wait for them, and shared no CPU with
  them, opens the window. A run of back-to-back calls pays for one wake-up itself once its serial calls have
  taken about as long as a wake-up costs (WAKE_UP_BUDGET_S, 8 ms);
- when another process holds the other core, any 2-thread call may wait for a slice (6-16 ms): a table with
  such cells was disturbed by other jobs on the machine; rerun it.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import fastloss
from fastloss import _engine

PAUSES_S = [0.0, 20e-6, 100e-6, 300e-6, 1e-3, 3e-3, 10e-3, 50e-3]
BUSY_BELOW_S = 1e-3  # shorter pauses busy-wait; longer ones sleep, then busy-wait the last SLEEP_SLACK_S
SLEEP_SLACK_S = 200e-6
WAKE_PAUSE_S = 0.06


def workloads(n, rng, dtypes, only=()):
    out = {}
    for dtype in dtypes:
        y = rng.integers(0, 2, size=(n // 8, 8)).astype(dtype)
        p = rng.uniform(1e-4, 1 - 1e-4, size=(n // 8, 8)).astype(dtype)
        z = rng.normal(0.0, 3.0, size=(n // 8, 8)).astype(dtype)
        name = np.dtype(dtype).name
        out[f"bce probs {name}"] = lambda t, y=y, p=p: fastloss.binary_crossentropy(y, p, n_threads=t)
        out[f"bce logits {name}"] = (
            lambda t, y=y, z=z: fastloss.binary_crossentropy(y, z, from_logits=True, n_threads=t))
        out[f"mse {name}"] = lambda t, y=y, p=p: fastloss.mean_squared_error(y, p, n_threads=t)
    return {k: v for k, v in out.items() if not only or any(o in k for o in only)}


def pause_until(deadline):
    left = deadline - time.perf_counter()
    if left >= BUSY_BELOW_S:
        time.sleep(left - SLEEP_SLACK_S)
    while time.perf_counter() < deadline:
        pass


def cell(call, threads, pause, rounds):
    """Median µs of the timed call on 1 and on `threads` threads, `pause` s after a parallel call returned."""
    samples = {1: [], threads: []}
    for _ in range(rounds):
        for t in (threads, 1):  # interleaved, so drift on a shared machine hits both alike
            call(threads)
            pause_until(time.perf_counter() + pause)
            start = time.perf_counter()
            call(t)
            samples[t].append(time.perf_counter() - start)
    return statistics.median(samples[threads]) * 1e6, statistics.median(samples[1]) * 1e6


def pause_table(sizes, dtypes, only, threads, rounds):
    rng = np.random.default_rng(0)
    print(f"# µs, median of {rounds}: {threads} threads / 1 thread, the given time after a parallel call returned")
    print("| workload | elements | " + " | ".join(_pause_text(p) for p in PAUSES_S) + " |")
    print("|---|---:|" + "---:|" * len(PAUSES_S))
    for n in sizes:
        for name, call in workloads(n, rng, dtypes, only).items():
            call(1), call(threads)  # first touch
            cells = [cell(call, threads, p, rounds) for p in PAUSES_S]
            print(f"| {name} | 2^{n.bit_length() - 1} | " + " | ".join(f"{a:.0f} / {b:.0f}" for a, b in cells) + " |",
                  flush=True)


def wake_table(sizes, dtypes, only, threads, rounds):
    """The first call after the process slept, on its own and after 20 ms of serial calls."""
    rng = np.random.default_rng(0)
    print(f"# µs, median of {rounds}: the first call after {WAKE_PAUSE_S * 1e3:.0f} ms of sleep")
    print(f"| workload | elements | 1 thread | {threads} threads | {threads} threads after 20 ms of serial calls |")
    print("|---|---:|---:|---:|---:|")
    for n in sizes:
        for name, call in workloads(n, rng, dtypes, only).items():
            call(1), call(threads)
            samples = {"1": [], "t": [], "serial first": []}
            for _ in range(rounds):
                for key, t in (("t", threads), ("1", 1), ("serial first", threads)):
                    time.sleep(WAKE_PAUSE_S)
                    if key == "serial first":
                        pause_until_serial = time.perf_counter() + 0.02
                        while time.perf_counter() < pause_until_serial:
                            call(1)
                    start = time.perf_counter()
                    call(t)
                    samples[key].append(time.perf_counter() - start)
            row = [statistics.median(samples[k]) * 1e6 for k in ("1", "t", "serial first")]
            print(f"| {name} | 2^{n.bit_length() - 1} | " + " | ".join(f"{v:.0f}" for v in row) + " |", flush=True)


def _pause_text(p):
    return "back to back" if p == 0 else f"{p * 1e3:g} ms" if p >= 1e-3 else f"{p * 1e6:g} µs"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs=2, default=(14, 21), metavar=("LOG2_FROM", "LOG2_TO"))
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--only", nargs="+", default=(), help="workloads whose name contains one of these")
    parser.add_argument("--wake", action="store_true", help="the first-call-after-sleep table instead")
    args = parser.parse_args()
    saved = _engine.PARALLEL_MIN_ELEMENTS
    _engine.PARALLEL_MIN_ELEMENTS = 0  # let n_threads decide at every size
    sizes = [1 << s for s in range(args.sizes[0], args.sizes[1] + 1)]
    try:
        (wake_table if args.wake else pause_table)(sizes, args.dtypes, args.only, args.threads, args.rounds)
    finally:
        _engine.PARALLEL_MIN_ELEMENTS = saved


if __name__ == "__main__":
    main()
