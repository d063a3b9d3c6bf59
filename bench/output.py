"""The results: ``results.md`` (small: the README shows it), ``results.json`` (every number),
``throughput.png`` (keys/s against concurrency, with the theoretical line) and, when the request-quota
scenarios ran, ``quota_rate.png`` (:mod:`quota_output`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import quota_output

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _mark(met: bool | None) -> str:
    return {True: "✓", False: "✗", None: "–"}[met]


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return [*lines, *("| " + " | ".join(row) + " |" for row in rows), ""]


def _busy(row: dict[str, Any]) -> str:
    return f"{100 * row['cpu_busy']:.0f}%" if row.get("cpu_busy") is not None else "?"


def _fleet_rows(results: dict[str, Any]) -> list[list[str]]:
    baselines = {(b["keys"], b["due"]): b for b in results["baselines"]}
    rows = []
    for r in results["fleets"]:
        base = baselines.get((r["keys"], r["due"]))
        rows.append(
            [
                f"{r['keys']:,}",
                _pct(r["due"], r["keys"]),
                f"{r['calls_over_minimum']:.2f}",
                _mark(r["calls_match_log"]),
                f"{r['wall_over_bound']:.2f}",
                f"{r['keys_per_s']:.0f}",
                f"{base['speedup']:.1f}×" if base else "not run",
                _busy(r),
            ]
        )
    return rows


def _sweep_rows(results: dict[str, Any]) -> list[list[str]]:
    return [
        [
            str(r["concurrency"]),
            f"{r['keys']:,}",
            f"{r['keys_per_s']:.0f}",
            f"{r['theoretical_keys_per_s']:.0f}",
            f"{r['achieved_over_theoretical']:.2f}",
            f"{r['cpu_ms_per_call']:.2f}" if r["cpu_ms_per_call"] is not None else "?",
            _busy(r),
        ]
        for r in results["sweep"]
    ]


def _ceiling(results: dict[str, Any]) -> list[str]:
    ceilings = results["meta"].get("cpu_ceilings_keys_per_s")
    if not ceilings or not results["sweep"]:
        return []
    which, ceiling = min(ceilings.items(), key=lambda item: item[1])
    top = max(results["sweep"], key=lambda r: r["concurrency"])
    return [
        f"CPU ceiling at concurrency {top['concurrency']}: the {which} allows {ceiling:.0f} keys/s "
        f"(the measured keys/s are {top['keys_per_s'] / ceiling:.2f} of it); "
        + ", ".join(f"{name} {value:.0f}" for name, value in ceilings.items())
        + ".",
        "",
    ]


def _overhead(overhead: dict[str, Any] | None) -> list[str]:
    if not overhead:
        return []
    return [
        f"At concurrency 1, per API call, the renewer takes {overhead['wall_per_call_ratio']:.2f}× the wall time "
        f"and {overhead['client_cpu_per_call_ratio']:.2f}× the client CPU of the sequential baseline.",
        "",
    ]


def markdown(results: dict[str, Any]) -> str:
    meta, qps, cold = results["meta"], results["qps"], results["cold_start"]
    latency, concurrency = meta["latency_ms"], meta["concurrency"]
    lines = [
        "# Benchmark: BYOK Renewer against the emulator",
        "",
        f"`{meta['command']}` · nproc {meta['nproc']} · Python {meta['python']} · {meta['date']} · "
        f"{meta['mode']} run, {meta['seconds']:.0f} s in all. Ratios are the claim; raw numbers: `results.json`.",
        "",
        "## Targets",
        "",
        *_table(
            ["target", "measured", ""], [[t["target"], t["measured"], _mark(t["met"])] for t in results["targets"]]
        ),
        f"## Fleets: {latency:g} ms injected latency per call, concurrency {concurrency}",
        "",
        *_table(
            ["keys", "due", "calls / minimum", "= emulator log", "wall / bound", "keys/s", "vs baseline", "CPU busy"],
            _fleet_rows(results),
        ),
        f"## Throughput against concurrency: all keys due, {latency:g} ms latency",
        "",
        *_table(
            ["concurrency", "keys", "keys/s", "theoretical", "achieved / theoretical", "CPU ms / call", "CPU busy"],
            _sweep_rows(results),
        ),
        *_ceiling(results),
        *_overhead(results.get("overhead")),
        "![keys/s against concurrency](throughput.png)",
        "",
        "## Under a service QPS limit (no latency)",
        "",
        *_table(
            ["service limit", "our max_qps", "keys (due)", "concurrency", "call rate / limit", "Throttling", "failed"],
            [
                [
                    f"{qps['qps_limit']:g}/s",
                    f"{qps['max_qps']:g}",
                    f"{qps['keys']:,} ({_pct(qps['due'], qps['keys'])})",
                    str(qps["concurrency"]),
                    f"{qps['call_rate'] / qps['qps_limit']:.2f}",
                    str(qps["throttled_in_log"]),
                    str(qps["failures"]),
                ]
            ],
        ),
        "## Cold start (fresh interpreters, medians)",
        "",
        *_table(
            ["runs", "`import index` / `import alibabacloud_kms20160120.client`", "boto3 / botocore imported"],
            [[str(cold["runs"]), f"{cold['ratio']:.2f}", ", ".join(cold["aws_sdk_imported"]) or "no"]],
        ),
        *(quota_output.markdown(results["quotas"], _table) if results.get("quotas") else []),
        "## Notes",
        "",
        *(f"- {note}" for note in results["notes"]),
        "",
    ]
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    sweep = results["sweep"]
    xs = [r["concurrency"] for r in sweep]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    ax.plot(
        xs,
        [r["theoretical_keys_per_s"] for r in sweep],
        "--",
        color="grey",
        label="theoretical: C / (calls/key × latency)",
    )
    ax.plot(xs, [r["keys_per_s"] for r in sweep], "o-", color="tab:blue", label="measured")
    ceilings = results["meta"].get("cpu_ceilings_keys_per_s")
    if ceilings:
        which, ceiling = min(ceilings.items(), key=lambda item: item[1])
        ax.axhline(ceiling, color="tab:red", linestyle=":", label=f"CPU ceiling: {which}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(xs, [str(x) for x in xs])
    ticks = [
        t for t in (5, 10, 25, 50, 100, 200, 400, 800) if t <= 1.2 * max(r["theoretical_keys_per_s"] for r in sweep)
    ]
    ax.set_yticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("concurrency (keys in flight)")
    ax.set_ylabel("keys renewed per second")
    ax.set_title(f"Throughput, all keys due, {results['meta']['latency_ms']:g} ms per call (emulator)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write(results: dict[str, Any], directory: Path = RESULTS_DIR) -> str:
    """Write results.md, results.json and the charts; returns the Markdown."""
    directory.mkdir(parents=True, exist_ok=True)
    text = markdown(results)
    (directory / "results.md").write_text(text, encoding="utf-8")
    (directory / "results.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    plot(results, directory / "throughput.png")
    if results.get("quotas"):
        quota_output.plot(results["quotas"], directory / quota_output.CHART)
    return text


def read(directory: Path = RESULTS_DIR) -> dict[str, Any] | None:
    """The results.json an earlier run wrote, or None."""
    try:
        return json.loads((directory / "results.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
