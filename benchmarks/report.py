"""Run the benchmark suite and write benchmarks/results/latest.md (a table) and latest.png (a plot).

    python benchmarks/report.py                  # 1e3, 1e5 elements and the fixed shapes
    python benchmarks/report.py --large          # adds 1e7 elements (FASTLOSS_BENCH_LARGE=1)
    python benchmarks/report.py --quick          # fewer rounds: a rough table in a few minutes
    python benchmarks/report.py --from-json benchmarks/results/latest.json   # re-render, do not run
    python benchmarks/report.py -- -k bce        # anything after -- goes to pytest

The suite runs in a subprocess (pytest with --benchmark-json=benchmarks/results/latest.json) from the
benchmarks/ directory, so it times the *installed* fastloss. To time an in-place build
(``python setup.py build_ext --inplace``), set ``FASTLOSS_ALLOW_SOURCE_TREE=1``: the checkout is then put on
PYTHONPATH.

Table columns (medians, milliseconds): fastloss with the default thread count and with one thread; the best peer
(the fastest contestant other than fastloss whose value agrees with the oracle: the NumPy oracle itself, torch,
jax, numba, sklearn); speed-up = best peer / fastloss default; % of roofline = time of a streaming read of the
same bytes / fastloss default; scaling = fastloss 1 thread / fastloss default; floor bound = best peer / the slowest
floor measured, with its name: the streaming read of the same bytes (read), and for the workloads from logits the
time of fastloss's exps alone over the same logits (exp). No loss that reads its inputs once, or is built on that
math, reaches a larger speed-up. Not given
below 1e5 elements, nor for a floor that fastloss itself beats (see slowest_floor).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
PEERS = ["oracle", "torch", "jax", "numba", "sklearn"]
PEER_NAMES = {"oracle": "numpy"}  # the oracle is plain NumPy


def run_suite(json_path: Path, large: bool, quick: bool, extra: list[str]) -> int:
    env = dict(os.environ)
    if large:
        env["FASTLOSS_BENCH_LARGE"] = "1"
    if quick:
        env["FASTLOSS_BENCH_QUICK"] = "1"
    if env.get("FASTLOSS_ALLOW_SOURCE_TREE") == "1":
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    cmd = [
        sys.executable, "-m", "pytest", str(HERE), "--benchmark-only", f"--benchmark-json={json_path}",
        "--benchmark-columns=median,iqr,rounds", "--benchmark-sort=name", "-q", "-p", "no:cacheprovider",
    ]
    cmd += ["--benchmark-max-time=0.05", "--benchmark-min-rounds=3"] if quick else ["--benchmark-max-time=0.5"]
    cmd += extra
    print("+", " ".join(cmd), flush=True)
    # cwd=benchmarks/: `python -m pytest` puts the cwd on sys.path, and the checkout root must not be there
    # (it would import the uncompiled source tree instead of the installed package).
    return subprocess.call(cmd, cwd=HERE, env=env)


# ---------------------------------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    wanted = ["avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl"]
                    return " ".join(w for w in wanted if w in flags) or "baseline"
    except OSError:
        pass
    return "?"


def memory_gib() -> str:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    return f"{int(line.split()[1]) / 2**20:.0f} GiB"
    except OSError:
        pass
    return "?"


def load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def git_describe() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "src", "fastloss",
                                "setup.py"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        return commit + (" + uncommitted changes to src/ or fastloss/" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def fmt_ms(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    ms = seconds * 1e3
    if ms >= 100:
        return f"{ms:.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    if ms >= 1:
        return f"{ms:.2f}"
    return f"{ms:.3g}"


def fmt_x(r: float | None) -> str:
    return "–" if r is None else (f"{r:.1f}×" if r >= 10 else f"{r:.2f}×")


def fmt_pct(r: float | None) -> str:
    return "–" if r is None else f"{100 * r:.0f}%"


def fmt_floor(row: dict) -> str:
    return "–" if row["floor_bound"] is None else f"{fmt_x(row['floor_bound'])} {FLOORS[row['floor']]}"


# What every loss of a workload must at least spend, each timed alone in the same run: reading its bytes once
# (roofline), and for the workloads from logits the exps (exp-floor) of fastloss's kernel. Short names for the table.
FLOORS = {"roofline": "read", "exp-floor": "exp"}
# Below this, a probe's own fixed cost (its call and its two-thread team, ~1 µs) is most of its time, and fastloss's
# one-thread path there pays no team: the probe measures no floor of the loss.
FLOOR_MIN_N = 100_000


def slowest_floor(times: dict, fl: float | None, n: int) -> tuple[float | None, str | None]:
    """The slowest floor of a row and its name. A floor that fastloss itself beats bounds nothing either: its reading
    was disturbed (a roofline read at 185% of fastloss's time)."""
    if n < FLOOR_MIN_N:
        return None, None
    valid = [(times[c], c) for c in FLOORS if c in times and (fl is None or times[c] <= fl)]
    return max(valid) if valid else (None, None)


def collect(data: dict) -> list[dict]:
    """One row per (workload, dtype, size): the median time of every contestant."""
    groups: dict[tuple, dict] = defaultdict(dict)
    for bench in data["benchmarks"]:
        info = bench.get("extra_info", {})
        if "workload" not in info:
            continue
        key = (info["workload"], info["dtype"], info["size"])
        g = groups[key]
        g.setdefault("label", info["label"])
        g.setdefault("n", info["n"])
        g.setdefault("shape", info["shape"])
        g.setdefault("bytes", info["bytes_read"])
        g.setdefault("times", {})[info["contestant"]] = bench["stats"]["median"]
        g.setdefault("accurate", {})[info["contestant"]] = info.get("accurate", True)
        g.setdefault("rel_err", {})[info["contestant"]] = info.get("rel_err")
    rows = []
    for (workload, dtype, size), g in groups.items():
        t = g["times"]
        fl, fl1, roof = t.get("fastloss-default"), t.get("fastloss-1thread"), t.get("roofline")
        floor, floor_name = slowest_floor(t, fl, g["n"])
        candidates = [(t[p], p) for p in PEERS if p in t and g["accurate"].get(p, True)]
        best_t, best = min(candidates) if candidates else (None, None)
        rows.append(dict(
            workload=workload, label=g["label"], dtype=dtype, size=size, n=g["n"], shape=g["shape"],
            bytes=g["bytes"], times=t, fl=fl, fl1=fl1, roof=roof, best=best, best_t=best_t,
            inaccurate=[p for p in PEERS if p in t and not g["accurate"].get(p, True)],
            rel_err=g["rel_err"],
            speedup=(best_t / fl) if (best_t and fl) else None,
            roofline=(roof / fl) if (roof and fl) else None,
            scaling=(fl1 / fl) if (fl1 and fl) else None,
            floor_bound=(best_t / floor) if (best_t and floor) else None, floor=floor_name,
        ))
    order = {w: i for i, w in enumerate(dict.fromkeys(b["extra_info"].get("workload") for b in data["benchmarks"]))}
    rows.sort(key=lambda r: (order.get(r["workload"], 99), r["dtype"], r["n"]))
    return rows


def versions_entry(data: dict) -> dict:
    """The extra_info of a loss benchmark: those record the machine, build and peer versions."""
    return next((b["extra_info"] for b in data["benchmarks"] if "fastloss_config" in b.get("extra_info", {})), {})


def machine_lines(data: dict) -> list[str]:
    first = versions_entry(data)
    cfg = first.get("fastloss_config", {})
    peers = first.get("peers", {})
    machine = data.get("machine_info", {})
    peer_text = ", ".join(f"{k} {v}" for k, v in peers.items() if v) or "none installed"
    return [
        f"- Machine: {data.get('_cpu_model') or cpu_model()}, {first.get('usable_cores', '?')} usable cores "
        f"({data.get('_cpu_flags') or cpu_flags()}), {data.get('_memory') or memory_gib()}, "
        f"{machine.get('system', platform.system())} {machine.get('release', '')}".rstrip(),
        f"- fastloss {first.get('fastloss', '?')} ({data.get('_build') or 'build: ?'}): "
        f"compiler {cfg.get('compiler', '?')}, flags `{cfg.get('flags', '?')}`, OpenMP {cfg.get('openmp', '?')}, "
        f"default threads {cfg.get('threads', '?')}, kernels `{Path(str(cfg.get('kernels', '?'))).name}`",
        f"- Python {first.get('python', '?')}, NumPy {first.get('numpy', '?')}; peers: {peer_text}",
        f"- Run: {data.get('datetime', '?')[:19]} UTC, OMP_NUM_THREADS={first.get('OMP_NUM_THREADS')}, "
        f"{data.get('_mode', '')}".rstrip(", "),
        f"- Load average (1 min) before / after the run: {data.get('_load', '?')} (the run itself raises it; other "
        "processes on the machine "
        "steal cores from the 2-thread runs; compare with the core count)",
    ]


def write_markdown(rows: list[dict], data: dict, path: Path) -> None:
    lines = ["# fastloss benchmark results", ""]
    lines += machine_lines(data)
    try:
        # The load before the run: during it the suite's own two-thread contestants keep the load near 2.
        busy = float(str(data.get("_load", "0 / 0")).split(" / ")[0]) >= 1.0
    except ValueError:
        busy = False
    if busy:
        lines += ["", "**Warning: other processes were running (load average ≥ 1 on this machine).** Two-thread "
                      "contestants then wait for the busy core in scheduler time slices (times near multiples of "
                      "4 ms: 8.0, 12.0, 16.0 ms), so the ratios below are unreliable; rerun on a quiet machine."]
    lines += [
        "",
        "Medians in milliseconds. *Best peer*: the fastest of numpy (`fastloss.oracle`), torch, jax, numba and "
        "sklearn whose value agrees with the oracle (rel. error ≤ 1e-4 in float32, 1e-8 in float64). *Speed-up* = "
        "best peer / fastloss default. *Roofline* = time to stream-read the same bytes / fastloss default. "
        "*Scaling* = fastloss 1 thread / fastloss default. *Floor bound* = best peer / the slowest floor measured "
        "in the same run, named: *read*, the stream read of the same bytes (`roofline`); for the workloads from "
        "logits *exp*, fastloss's exps alone over the same logits (`exp-floor`). The largest speed-up any loss that "
        "reads its inputs once, or is built on that math, could reach. Not given below 1e5 elements (a probe's call "
        "and thread team are most of its time there) nor for a floor that fastloss itself beats (a disturbed read).",
        "",
        "| workload | dtype | size | fastloss (ms) | fastloss 1 thread | best peer | speed-up | roofline | scaling "
        "| floor bound |",
        "|---|---|---|--:|--:|---|--:|--:|--:|--:|",
    ]
    for r in rows:
        best = f"{PEER_NAMES.get(r['best'], r['best'])} {fmt_ms(r['best_t'])}" if r["best"] else "–"
        lines.append(
            f"| {r['label']} | {r['dtype']} | {r['size']} | {fmt_ms(r['fl'])} | {fmt_ms(r['fl1'])} | {best} | "
            f"{fmt_x(r['speedup'])} | {fmt_pct(r['roofline'])} | {fmt_x(r['scaling'])} | {fmt_floor(r)} |"
        )
    lines += ["", "## Every contestant (median ms)", ""]
    # fastloss-out: value_and_grad writing its gradient into a reused out= array (gradient workloads only).
    cols = ["fastloss-default", "fastloss-1thread", "fastloss-out", "oracle", "torch", "jax", "numba", "sklearn",
            "roofline", "exp-floor"]
    lines.append("| workload | dtype | size | MB read | " + " | ".join(cols) + " |")
    lines.append("|---|---|---|--:|" + "--:|" * len(cols))
    for r in rows:
        cells = []
        for c in cols:
            cell = fmt_ms(r["times"].get(c))
            if c in r["inaccurate"]:
                cell += f" (rel. err. {r['rel_err'][c]:.1e})"
            cells.append(cell)
        lines.append(f"| {r['label']} | {r['dtype']} | {r['size']} | {r['bytes'] / 1e6:.3g} | " + " | ".join(cells) + " |")
    inaccurate = [(r, p) for r in rows for p in r["inaccurate"]]
    if inaccurate:
        lines += ["", "Peers shown with a relative error were timed but not counted as best peer (their value "
                      "differs from the oracle's by more than the tolerance)."]
    path.write_text("\n".join(lines) + "\n")


def write_plot(rows: list[dict], data: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    rows = [r for r in rows if r["speedup"]]
    if not rows:
        return
    labels = [f"{r['label']}  {r['dtype'].replace('float', 'f')}  {r['size']}" for r in rows]
    values = [r["speedup"] for r in rows]
    colors = ["#1f77b4" if r["dtype"] == "float32" else "#ff7f0e" for r in rows]
    fig, ax = plt.subplots(figsize=(13, 0.3 * len(rows) + 1.8))
    y = list(range(len(rows)))[::-1]
    ax.barh(y, values, color=colors, height=0.7)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    for yi, v, r in zip(y, values, rows):
        ax.text(v, yi, f" {v:.2g}× vs {PEER_NAMES.get(r['best'], r['best'])}", va="center", fontsize=7)
    lo, hi = min(values + [1.0]), max(values + [1.0])
    ax.set_xlim(lo / 1.5, hi * 4)
    ticks = [t for t in (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100) if lo / 1.5 <= t <= hi * 4]
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}×"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("speed-up over the best peer (median time of best peer / fastloss, log scale; right of 1× = fastloss faster)")
    first = versions_entry(data)
    ax.set_title(f"fastloss vs best peer — {data.get('_cpu_model') or cpu_model()}, "
                 f"{first.get('usable_cores', '?')} cores (blue float32, orange float64)", fontsize=10)
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


README_START, README_END = "<!-- bench-results:start -->", "<!-- bench-results:end -->"


def update_readme(latest_md: Path) -> None:
    """Put latest.md's header and main table (not the per-contestant table) between the README markers."""
    readme = ROOT / "README.md"
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        print("README.md has no bench-results markers; not updated", file=sys.stderr)
        return
    body = latest_md.read_text().split("\n## Every contestant")[0]
    body = body.replace("# fastloss benchmark results\n\n", "", 1).strip()
    body += "\n\nEvery contestant's median: `benchmarks/results/latest.md`."
    head, rest = text.split(README_START, 1)
    tail = rest.split(README_END, 1)[1]
    readme.write_text(f"{head}{README_START}\n{body}\n{README_END}{tail}")
    print("updated README.md")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", action="store_true", help="add 1e7 elements (FASTLOSS_BENCH_LARGE=1)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds per benchmark")
    parser.add_argument("--from-json", type=Path, help="render this pytest-benchmark JSON instead of running")
    parser.add_argument("--out", type=Path, default=RESULTS, help="output folder (default benchmarks/results)")
    parser.add_argument("--update-readme", action="store_true",
                        help="also replace the table between the bench markers in README.md")
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to pytest")
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    if args.from_json:
        json_path = args.from_json
    else:
        json_path = args.out / "latest.json"
        load_before = load_average()
        rc = run_suite(json_path, args.large, args.quick, args.pytest_args)
        if rc != 0:
            print(f"pytest exited with {rc}", file=sys.stderr)
            if not json_path.exists():
                return rc
    data = json.loads(json_path.read_text())
    if not args.from_json:  # describe the machine and build now, and keep it with the raw results
        data["_cpu_model"], data["_cpu_flags"], data["_memory"] = cpu_model(), cpu_flags(), memory_gib()
        in_place = os.environ.get("FASTLOSS_ALLOW_SOURCE_TREE") == "1"
        data["_build"] = ("in-place build of " if in_place else "installed build; checkout at ") + git_describe()
        data["_mode"] = ", ".join(filter(None, ["1e7 elements included" if args.large else "",
                                                "quick (few rounds)" if args.quick else ""]))
        data["_load"] = f"{load_before} / {load_average()}"
        json_path.write_text(json.dumps(data, indent=1))
    rows = collect(data)
    write_markdown(rows, data, args.out / "latest.md")
    write_plot(rows, data, args.out / "latest.png")
    print(f"wrote {args.out / 'latest.md'} and {args.out / 'latest.png'} ({len(rows)} rows)")
    if args.update_readme:
        update_readme(args.out / "latest.md")
    print((args.out / "latest.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
