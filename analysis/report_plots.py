"""The report's charts, each a PNG (base64) with every architecture of the run on it.

Sync lag per flow (cumulative distribution), consistency and backlog over time
with the fault windows shaded, the t-visibility curve, and one run's topology
(systems, flows, mechanism and measured lag).  matplotlib draws off-screen
(``Agg``): a report is written on machines without a display.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
from matplotlib.ticker import LogLocator

from analysis.judged import JudgedRun, human
from analysis.metrics import backlog_over_time, consistency_over_time, t_visibility
from analysis.topology import build_topology

__all__ = ["COLORS", "lag_cdfs", "over_time", "topology", "visibility"]

COLORS = {"batch": "#c0392b", "event": "#2471a3", "api": "#7d3c98", "hybrid": "#1e8449"}


def _time_marks(ax: Any) -> None:
    """A minute, an hour and a day, dotted, on a log time axis; minor ticks at 2 and 5 of
    each decade (matplotlib's default of eight per decade over the axis's eight decades made
    ticks half of the report's drawing time)."""
    for mark in (60, 3600, 86400):
        ax.axvline(mark, color="#bbb", lw=0.8, ls=":")
    ax.xaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))


def _margins(fig: Any, *, left: float = 0.8, bottom: float = 0.55, top: float = 0.35) -> None:
    """Fixed margins in inches, room for the tick labels, axis labels and title this module
    draws: ``tight_layout`` and ``bbox_inches="tight"`` each draw the whole figure once more
    to measure it, which tripled the cost of the lag chart."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=left / width, right=1 - 0.15 / width,
                        bottom=bottom / height, top=1 - top / height)  # fmt: skip


def _legend(ax: Any, where: str) -> None:
    """A legend when something was drawn (a run with no update draws nothing to label)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc=where, fontsize=8)


def _png(fig: Any, *, tight: bool = False) -> str:
    """The figure as base64 PNG; ``tight`` crops to what was drawn (one more draw)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight" if tight else None)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _shade_faults(ax: Any, runs: list[JudgedRun]) -> None:
    seen: set[tuple[str, str, float, float]] = set()
    for run in runs:
        for f in run.judgement.faults:
            key = (f.system, f.kind, f.start, f.end)
            if key in seen:
                continue
            seen.add(key)
            ax.axvspan(f.start / 3600, max(f.end, f.start + 1) / 3600, color="#f5b041", alpha=0.25)
            label = f" {f.system} {f.kind}"
            ax.text(f.start / 3600, 1.0, label, transform=ax.get_xaxis_transform(),
                    fontsize=7, va="top", color="#9c640c")  # fmt: skip


def lag_cdfs(runs: list[JudgedRun], flows: list[str]) -> str | None:
    if not flows:
        return None
    cols = min(3, len(flows))
    rows = (len(flows) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.4 * rows), squeeze=False)
    for ax in axes.flat[len(flows) :]:
        ax.set_visible(False)
    for ax, flow in zip(axes.flat, flows, strict=False):
        for run in runs:
            lags = np.array(run.judgement.flow_lags(flow))
            if lags.size == 0:
                continue
            shares = np.linspace(0.0, 1.0, 401)
            x = np.quantile(lags, shares, method="inverted_cdf")
            arch = run.architecture
            ax.step(np.maximum(x, 1e-3), shares, where="post", label=arch, color=COLORS.get(arch))
        ax.set_xscale("log")
        ax.set_xlabel("sync lag (s, log scale)")
        ax.set_ylabel("share of replica updates")
        ax.set_title(flow)
        _time_marks(ax)
        ax.grid(alpha=0.3)
        _legend(ax, "lower right")
    _margins(fig)
    fig.subplots_adjust(wspace=0.25, hspace=0.22 + 0.6 / 3.4)  # a title and an x label apart
    return _png(fig)


def over_time(runs: list[JudgedRun], what: str) -> str:
    fig, ax = plt.subplots(figsize=(10.4, 3.4))
    for run in runs:
        arch, end = run.architecture, float(run.results["simulated_seconds"])
        if what == "consistency":
            t, y = consistency_over_time(run.judgement, end, samples=800)
            ax.plot(t / 3600, y * 100, label=arch, color=COLORS.get(arch), lw=1.2)
        else:
            t, y = backlog_over_time(run.judgement, end)
            ax.step(t / 3600, y, where="post", label=arch, color=COLORS.get(arch), lw=1.2)
    _shade_faults(ax, runs)
    ax.set_xlabel("hours since the start of the run (fault windows shaded)")
    if what == "consistency":
        ax.set_ylabel("% of entities in agreement")
        ax.set_title("Consistency over time: entities whose replicas all agree with the owner")
    else:
        ax.set_ylabel("updates not yet visible")
        ax.set_title("Backlog: (update, replica) pairs a replica does not reflect yet")
    ax.grid(alpha=0.3)
    _legend(ax, "lower left" if what == "consistency" else "upper left")
    _margins(fig)
    return _png(fig)


def visibility(runs: list[JudgedRun]) -> str:
    fig, ax = plt.subplots(figsize=(10.4, 3.4))
    ts = np.logspace(-2, 6, 200)
    for run in runs:
        arch = run.architecture
        visible = [p for p in t_visibility(run.judgement, ts) if p is not None]
        if visible:  # None: no update, nothing to draw
            ax.plot(ts, visible, label=arch, color=COLORS.get(arch))
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("t: seconds after the owner's change (log scale)")
    ax.set_ylabel("P(replica reflects it)")
    ax.set_title("t-visibility (probabilistically bounded staleness)")
    _time_marks(ax)
    ax.grid(alpha=0.3)
    _legend(ax, "lower right")
    _margins(fig)
    return _png(fig)


def topology(run: JudgedRun) -> str:
    graph = build_topology(run.judgement)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    pos = nx.circular_layout(sorted(graph.nodes)) if graph.nodes else {}
    nx.draw_networkx_nodes(graph, pos, ax=ax, node_size=2200, node_color="#d6eaf8")
    nx.draw_networkx_labels(graph, pos, ax=ax, font_size=10)
    pairs: dict[tuple[str, str], list[str]] = {}
    for u, v, d in graph.edges(data=True):
        pairs.setdefault((u, v), []).append(
            f"{d['fact']} ({d['mechanism']}, p99 {human(d['lag_p99_s'])})"
        )
    nx.draw_networkx_edges(
        graph, pos, ax=ax, edgelist=list(pairs), arrows=True, arrowsize=18, node_size=2200,
        connectionstyle="arc3,rad=0.12", edge_color="#566573",
    )  # fmt: skip
    nx.draw_networkx_edge_labels(
        graph, pos, ax=ax, edge_labels={k: "\n".join(v) for k, v in pairs.items()},
        font_size=7, connectionstyle="arc3,rad=0.12",
    )  # fmt: skip
    ax.set_title(f"Flows through the middleware ({run.architecture}): owner → replica")
    ax.axis("off")
    return _png(fig, tight=True)  # edge labels may stand outside the axes
