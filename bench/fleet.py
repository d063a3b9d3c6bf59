"""Fleet benchmark: BYOK Renewer against the local emulator, measured in one run, reported as ratios.

    make bench                          # or: .venv/bin/python bench/fleet.py [--quick]

Starts the emulator on 127.0.0.1 (``--reuse-wrapping-keys``), seeds one fleet through the official SDK
and measures, with injected per-call latency: fleets of 100, 1,000 and 5,000 keys at 10/50/100% due
against a naive sequential SDK loop; keys/s against concurrency; the request budget under a service
QPS limit; the handler's cold start; and the request-quota scenarios (:mod:`quotas`, issue #15;
``--quotas-only`` runs just those and updates their part of the results). Writes ``bench/results/``
(see :mod:`output`) and prints the Markdown. Targets are flagged ✓/✗, never asserted: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import time
from collections.abc import Sequence
from typing import Any

import analysis
import output
import quotas
from baseline import run_baseline
from coldstart import measure_cold_start
from harness import ACCESS_KEY_ID, ACCESS_KEY_SECRET, REGION, Fleet, Scenario, nproc
from ours import quiet, run_ours

from emulator.cloud import spawn

DUE_FRACTIONS = (0.1, 0.5, 1.0)
SWEEP = (1, 2, 4, 8, 16, 32)
SWEEP_KEYS = 1000
SWEEP_KEYS_PER_CONCURRENCY = 125  # below concurrency 8 the sweep uses 125 x concurrency keys
BASELINE_MAX_KEYS = 1000  # 5,000 keys one after another at 20 ms a call would take ~8 min
OTHER_LOAD_WARNING = 0.1


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/fleet.py", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fleets of 100 and 1,000 only, fewer runs elsewhere")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="injected latency per call (default 20)")
    parser.add_argument("--concurrency", type=int, default=16, help="keys in flight for the fleet runs (default 16)")
    parser.add_argument("--qps-limit", type=int, default=50, help="the service's QPS limit (default 50)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--quotas-only", action="store_true", help="only the request-quota scenarios (the rest from results.json)"
    )
    which.add_argument("--no-quotas", action="store_true", help="skip the request-quota scenarios")
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def wants_baseline(size: int, due: int, quick: bool) -> bool:
    """100 keys: every fraction; 1,000 keys: all due only (the target), and not in quick mode."""
    if size <= 100:
        return True
    return size <= BASELINE_MAX_KEYS and due == size and not quick


def sweep_keys(concurrency: int) -> int:
    return min(SWEEP_KEYS, SWEEP_KEYS_PER_CONCURRENCY * concurrency)


def run_fleets(fleet: Fleet, args: argparse.Namespace, sizes: tuple[int, ...]) -> tuple[list[Any], list[Any]]:
    """Each fleet size and due fraction: our run, then the baseline on the same keys (when affordable)."""
    fleets, baselines = [], []
    for size in sizes:
        for fraction in DUE_FRACTIONS:
            due = round(size * fraction)
            scenario = Scenario(f"fleet-{size}-{due}", size, due, args.concurrency, args.latency_ms)
            measured, report = run_ours(fleet, scenario)
            row = analysis.our_row(scenario, measured, report)
            fleets.append(row)
            text = f"{size:,} keys, {due:,} due: {row['wall_over_bound']:.2f}× bound"
            if wants_baseline(size, due, args.quick):
                base, calls = run_baseline(fleet, Scenario(f"baseline-{size}-{due}", size, due, 1, args.latency_ms))
                baselines.append(analysis.baseline_row(scenario, base, calls, row))
                text += f", {baselines[-1]['speedup']:.1f}× the baseline"
            progress(text)
    return fleets, baselines


def run_sweep(fleet: Fleet, args: argparse.Namespace, fleets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keys/s against concurrency, all keys due; reuses the fleet run that matches a point."""
    points = (1, 4, 16, 32) if args.quick else SWEEP
    rows = []
    for concurrency in points:
        keys = sweep_keys(concurrency)
        same = [r for r in fleets if (r["keys"], r["due"], r["concurrency"]) == (keys, keys, concurrency)]
        if same:
            row = same[0]
        else:
            scenario = Scenario(f"sweep-{concurrency}", keys, keys, concurrency, args.latency_ms)
            row = analysis.our_row(scenario, *run_ours(fleet, scenario))
        rows.append(analysis.sweep_row(row))
        progress(f"concurrency {concurrency}: {rows[-1]['achieved_over_theoretical']:.2f} of theoretical keys/s")
    return rows


def run_qps(fleet: Fleet, args: argparse.Namespace) -> dict[str, Any]:
    keys = 500 if args.quick else 1000
    limit = args.qps_limit
    scenario = Scenario("qps-limit", keys, keys // 10, 16, 0.0, qps_limit=limit, max_qps=0.95 * limit)
    row = analysis.our_row(scenario, *run_ours(fleet, scenario))
    progress(f"QPS limit {limit}: {row['call_rate'] / limit:.2f} of the limit, {row['throttled_in_log']} throttled")
    return row


def notes(args: argparse.Namespace, results: dict[str, Any], fleet: Fleet) -> list[str]:
    loads = [r["other_load"] for r in _all_runs(results) if r["other_load"] is not None]
    busy = sum(1 for load in loads if load > OTHER_LOAD_WARNING)
    warning = f" (over {100 * OTHER_LOAD_WARNING:.0f}% in {busy} runs: their ratios are pessimistic)" if busy else ""
    return [
        "The emulator runs with `--reuse-wrapping-keys`: a fresh RSA-2048 key pair costs ~40 ms of CPU per "
        "`GetParametersForImport`, which would measure the emulator's keygen, not the renewer.",
        f"bound = max(calls × latency / concurrency, calls / service QPS limit); concurrency is keys in flight "
        f"per region and each key's calls are sequential. Minimum calls = 1 per skipped key, "
        f"{analysis.CALLS_PER_RENEWED_KEY} per renewed key, 1 secret read per material.",
        "Baseline: a plain sequential loop with the official KMS SDK on the same keys at the same latency; "
        + (
            "run for the 100-key fleets only (`--quick`)."
            if args.quick
            else "run for every 100-key fleet and for 1,000 keys all due (others take minutes; 5,000 would take ~8)."
        ),
        f"Sweep: {SWEEP_KEYS:,} keys from concurrency 8 up; below it {SWEEP_KEYS_PER_CONCURRENCY} × concurrency keys "
        "(each point ≥ 500 calls), to keep the bench short; keys/s does not depend on the fleet size.",
        "CPU busy = CPU seconds of the bench and emulator processes / (wall × nproc): both share this machine, "
        "so near 100% the machine, not the renewer's concurrency, is the limit.",
        f"Seeding: {len(fleet.keys):,} keys through the SDK, no fault; "
        f"{fleet.reimports:,} re-imports with a short expiry made renewed keys due again between runs.",
        f"Other processes used at most {100 * max(loads, default=0):.0f}% of the machine during a run{warning}.",
    ]


def _all_runs(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [*results["fleets"], *results["baselines"], *results["sweep"], results["qps"]]


def run_quotas(args: argparse.Namespace) -> dict[str, Any]:
    """The request-quota scenarios (300 keys and a 60 s AWS timeout with ``--quick``), with their notes."""
    started = time.perf_counter()
    found = quotas.run_quotas(300 if args.quick else 1000, 60 if args.quick else 120)
    found.update(
        command=command(args),
        date=datetime.date.today().isoformat(),
        seconds=time.perf_counter() - started,
        notes=quotas.notes(found),
    )
    return found


def quotas_only(args: argparse.Namespace) -> int:
    """Re-run the quota scenarios and rewrite the results with the other sections as they were."""
    results = output.read()
    if results is None:
        print("bench/results/results.json is missing: run `make bench` once first", file=sys.stderr)
        return 2
    results["quotas"] = run_quotas(args)
    results["targets"] = analysis.targets(results)
    print(output.write(results))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    quiet()
    if args.quotas_only:
        return quotas_only(args)
    sizes = (100, 1000) if args.quick else (100, 1000, 5000)
    started = time.perf_counter()
    with spawn((REGION,), ACCESS_KEY_ID, ACCESS_KEY_SECRET, extra_args=("--reuse-wrapping-keys",)) as emulator:
        fleet = Fleet(emulator.endpoints, emulator.process.pid, emulator.admin_token)
        fleet.seed(max(sizes))
        progress(f"seeded {len(fleet.keys):,} keys in {time.perf_counter() - started:.0f} s")
        fleets, baselines = run_fleets(fleet, args, sizes)
        sweep = run_sweep(fleet, args, fleets)
        qps = run_qps(fleet, args)
    cold = measure_cold_start(7 if args.quick else 15)
    progress(f"cold start: {cold['ratio']:.2f}× the SDK import alone")
    results: dict[str, Any] = {"fleets": fleets, "baselines": baselines, "sweep": sweep, "qps": qps, "cold_start": cold}
    if not args.no_quotas:
        results["quotas"] = run_quotas(args)
    results["overhead"] = analysis.overhead(results)
    results["notes"] = notes(args, results, fleet)
    results["targets"] = analysis.targets(results)
    results["meta"] = meta(args, sweep, time.perf_counter() - started)
    print(output.write(results))
    return 0


def cpu_ceilings(sweep: list[dict[str, Any]]) -> dict[str, float] | None:
    """Keys/s that the CPU would allow, from the busiest sweep point: each Python process can use at
    most one core (the GIL), and both together at most nproc cores."""
    row = max(sweep, key=lambda r: r["concurrency"], default=None)
    if row is None or row["cpu_emulator_s"] is None:
        return None
    keys = row["keys"]
    return {
        "client process (1 core: its GIL)": keys / row["cpu_bench_s"],
        "emulator process (1 core: its GIL)": keys / row["cpu_emulator_s"],
        f"machine ({nproc()} cores)": nproc() * keys / (row["cpu_bench_s"] + row["cpu_emulator_s"]),
    }


def command(args: argparse.Namespace) -> str:
    return "make bench" + (f" BENCH_ARGS='{' '.join(args.argv)}'" if args.argv else "")


def meta(args: argparse.Namespace, sweep: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    return {
        "command": command(args),
        "mode": "quick" if args.quick else "full",
        "nproc": nproc(),
        "python": platform.python_version(),
        "date": datetime.date.today().isoformat(),
        "seconds": seconds,
        "latency_ms": args.latency_ms,
        "concurrency": args.concurrency,
        "cpu_ceilings_keys_per_s": cpu_ceilings(sweep),
    }


if __name__ == "__main__":
    sys.exit(main())
