"""The "Request quotas" part of the results (see :mod:`quotas`): its Markdown section and
``quota_rate.png`` (calls sent per second against the quota, per group, from the emulator's histogram)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHART = "quota_rate.png"


def _ratio(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _alibaba_rows(quotas: dict[str, Any]) -> list[list[str]]:
    rows = []
    for name, label in (("alibaba", "one run"), ("fanout", "fan-out")):
        r = quotas.get(name)
        if not r:
            continue
        lowest = r.get("lowest_rate", {}).get("query")
        rows.append(
            [
                f"{label} ({r['shards']} {'shard' if r['shards'] == 1 else 'shards'})",
                f"{r['keys']:,}",
                _ratio(r["wall_over_bound"]),
                f"{r['bound_group']}: {r['bound_s']:.0f} s",
                str(r["failures"]),
                f"{100 * r['throttled_share']:.1f}%",
                _ratio(r["peak_over_quota"]),
                _ratio(r["peak_over_effective"]),
                "–" if lowest is None else f"{lowest:g}/s",
            ]
        )
    return rows


def _aws_rows(aws: dict[str, Any]) -> list[list[str]]:
    backlog = aws.get("backlog") or {}
    return [
        [
            f"{aws['keys']:,}",
            f"{aws['timeout_s']:g} s",
            f"{aws['renewed']:,}",
            f"{aws['waiting']:,}",
            str(backlog.get("keys_per_run", "–")),
            _ratio(aws.get("renewed_over_keys_per_run")),
            str(backlog.get("days_needed", "–")),
            str(aws.get("expected_days_needed") if aws.get("expected_days_needed") is not None else "–"),
            "✓" if aws["most_urgent_first"] else f"✗ ({aws['misordered_keys']} keys)",
            _ratio(aws.get("gpfi_rate_over_quota")),
            str(aws["failures"]),
        ]
    ]


def markdown(quotas: dict[str, Any], table: Any) -> list[str]:
    """The section's lines; ``table`` is :func:`output._table` (header, rows) -> lines."""
    aws = quotas.get("aws")
    lines = [
        "## Request quotas (the emulator enforcing the published quotas)",
        "",
        f"`{quotas['command']}` · {quotas['date']} · {quotas['seconds']:.0f} s. Alibaba Cloud: "
        f"{quotas['alibaba']['keys']:,} due keys, the renewer's default settings (no `limits`), no injected "
        f"latency, a competing workload holding {100 * quotas['alibaba']['reserved']['alibaba:query']:.0f}% "
        "of the `query` quota (50/s leaves 30/s).",
        "",
        *table(
            [
                "run",
                "keys",
                "wall / bound",
                "bound",
                "failed",
                "throttled / calls",
                "peak / quota",
                "peak / quota left",
                "lowest query rate",
            ],
            _alibaba_rows(quotas),
        ),
    ]
    if aws:
        lines += [
            f"AWS: {aws['keys']:,} due keys with staggered expiries, `GetParametersForImport` at its published 1/s, "
            f"the function's timeout {aws['timeout_s']:g} s.",
            "",
            *table(
                [
                    "keys due",
                    "timeout",
                    "renewed",
                    "waiting",
                    "keys_per_run",
                    "renewed / keys_per_run",
                    "days_needed",
                    "⌈waiting / keys_per_run⌉",
                    "most urgent first",
                    "GetParametersForImport rate / quota",
                    "failed",
                ],
                _aws_rows(aws),
            ),
        ]
    lines += [f"![calls per second against the quota]({CHART})", ""]
    lines += [f"- {note}" for note in quotas.get("notes", [])]
    return [*lines, ""]


def plot(quotas: dict[str, Any], path: Path) -> None:
    """Two panels (one run, fan-out): each plotted group's calls sent per second, and its quotas."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    runs = [(name, quotas[name]) for name in ("alibaba", "fanout") if quotas.get(name)]
    fig, axes = plt.subplots(1, len(runs), figsize=(6 * len(runs), 4.5), dpi=100, sharey=True, squeeze=False)
    colours = {"query": "tab:blue", "modify": "tab:orange"}
    for ax, (name, run) in zip(axes[0], runs, strict=True):
        for group, s in run["series"].items():
            colour = colours.get(group, "tab:green")
            sent = [a + t for a, t in zip(s["admitted"], s["throttled"], strict=True)]
            ax.plot(s["seconds"], sent, "-", color=colour, linewidth=1, label=f"{group}: sent")
            ax.fill_between(s["seconds"], s["admitted"], sent, color="tab:red", alpha=0.35, linewidth=0)
            ax.axhline(s["quota"], color=colour, linestyle="--", linewidth=1, label=f"{group} quota {s['quota']:g}/s")
            if s["effective"] != s["quota"]:
                ax.axhline(
                    s["effective"], color=colour, linestyle=":", label=f"{group} left to us {s['effective']:g}/s"
                )
        ax.fill_between([], [], [], color="tab:red", alpha=0.35, label="throttled")
        title = "one run" if name == "alibaba" else f"fan-out, {run['shards']} shards"
        ax.set_title(f"{title}: {run['keys']:,} keys, wall / bound {run['wall_over_bound']:.2f}")
        ax.set_xlabel("seconds (emulator clock)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="lower right", framealpha=0.9)
    axes[0][0].set_ylabel("calls per second (Alibaba Cloud, cn-hangzhou)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
