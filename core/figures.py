"""Plotly figures every app's pages draw with, so a curve looks the same in the builder and on
a dashboard. Pure: data in, a JSON-able figure (``{"data": [...], "layout": {...}}``) out;
pages hand it to ``Plotly.react`` (plotly.js is served from the plotly package by
``core.staticfinders.PlotlyFinder``, never a CDN).

Figures are for display: the amounts arrive as Decimals and are drawn as floats, which only
positions points on a screen (the figures people are paid are the engine's lines).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go

ACCENT = "#4f46e5"
GRID = "#e5e7eb"
FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"


def _layout(*, x_title: str, y_title: str, x_percent: bool, y_percent: bool) -> dict[str, Any]:
    return {
        "template": "none",
        "font": {"family": FONT, "size": 13},
        "margin": {"l": 64, "r": 16, "t": 16, "b": 48},
        "height": 320,
        "showlegend": False,
        "hovermode": "x unified",
        "xaxis": {
            "title": {"text": x_title},
            "tickformat": ".0%" if x_percent else ",",
            "gridcolor": GRID,
            "zeroline": False,
        },
        "yaxis": {
            "title": {"text": y_title},
            "tickformat": ".0%" if y_percent else ",.0f",
            "gridcolor": GRID,
            "rangemode": "tozero",
        },
    }


def line_figure(
    x: Sequence[Decimal | int],
    y: Sequence[Decimal | int],
    *,
    x_title: str,
    y_title: str,
    name: str = "",
    x_percent: bool = False,
    y_percent: bool = False,
    markers: Sequence[tuple[Decimal, Decimal, str]] = (),
) -> dict[str, Any]:
    """Return a line chart of ``y`` against ``x``, with optional labelled marker points."""
    fig = go.Figure(
        data=[
            go.Scatter(
                x=[float(v) for v in x],
                y=[float(v) for v in y],
                mode="lines",
                name=name,
                line={"color": ACCENT, "width": 3},
                hovertemplate=("%{x:.0%}" if x_percent else "%{x:,}")
                + ": %{y:,.2f}<extra></extra>",
            )
        ],
        layout=_layout(x_title=x_title, y_title=y_title, x_percent=x_percent, y_percent=y_percent),
    )
    if markers:
        fig.add_trace(
            go.Scatter(
                x=[float(m[0]) for m in markers],
                y=[float(m[1]) for m in markers],
                mode="markers+text",
                text=[m[2] for m in markers],
                textposition="top center",
                marker={"color": "#111827", "size": 8},
                hoverinfo="skip",
            )
        )
    figure: dict[str, Any] = fig.to_plotly_json()
    figure["layout"]["template"] = {}  # "none": no theme data to ship
    return figure


def payout_curve_figure(
    attainment: Sequence[Decimal], payout: Sequence[Decimal], *, currency: str, title: str = ""
) -> dict[str, Any]:
    """Return the chart of payout (money) against attainment (a fraction: 1 = 100 %)."""
    return line_figure(
        attainment,
        payout,
        x_title="Attainment",
        y_title=f"Payout ({currency})",
        name=title,
        x_percent=True,
    )


def cumulative_figure(
    labels: Sequence[str],
    earned: Sequence[Decimal],
    target: Sequence[Decimal | None],
    *,
    currency: str,
) -> dict[str, Any]:
    """Return cumulative earnings (bars) against cumulative target (a line) by period."""
    fig = go.Figure(
        data=[
            go.Bar(
                x=list(labels),
                y=[float(v) for v in earned],
                name="Earned",
                marker={"color": ACCENT},
                hovertemplate="%{x}: %{y:,.2f} " + currency + "<extra>Earned</extra>",
            )
        ],
        layout=_layout(
            x_title="Period", y_title=f"Cumulative ({currency})", x_percent=False, y_percent=False
        ),
    )
    if any(t is not None for t in target):
        fig.add_trace(
            go.Scatter(
                x=list(labels),
                y=[None if t is None else float(t) for t in target],
                mode="lines+markers",
                name="Target",
                line={"color": "#111827", "width": 2, "dash": "dash"},
                hovertemplate="%{x}: %{y:,.2f} " + currency + "<extra>Target</extra>",
            )
        )
    figure: dict[str, Any] = fig.to_plotly_json()
    figure["layout"]["template"] = {}
    figure["layout"]["showlegend"] = True
    figure["layout"]["legend"] = {"orientation": "h", "y": 1.12}
    figure["layout"]["xaxis"]["type"] = "category"
    figure["layout"]["xaxis"]["title"] = {"text": ""}  # the labels name the periods
    figure["layout"]["xaxis"]["tickangle"] = -30
    figure["layout"]["xaxis"]["automargin"] = True
    return figure


def distribution_figure(
    buckets: Sequence[str], counts: Sequence[int], *, x_title: str = "Attainment"
) -> dict[str, Any]:
    """Return a bar chart of how many people fall in each bucket (an attainment histogram)."""
    fig = go.Figure(
        data=[
            go.Bar(
                x=list(buckets),
                y=list(counts),
                marker={"color": ACCENT},
                hovertemplate="%{x}: %{y} people<extra></extra>",
            )
        ],
        layout=_layout(x_title=x_title, y_title="People", x_percent=False, y_percent=False),
    )
    figure: dict[str, Any] = fig.to_plotly_json()
    figure["layout"]["template"] = {}
    figure["layout"]["xaxis"]["type"] = "category"
    figure["layout"]["yaxis"]["tickformat"] = ",d"
    # whole people only: a step of at least 1 (plotly's own 0.5 steps read "0, 1, 1, 2, 2")
    figure["layout"]["yaxis"]["dtick"] = max(1, math.ceil(max(counts, default=0) / 5))
    return figure


# --- the executive dashboard (payouts/analytics.py) ---------------------------------------------

PALETTE = ("#4f46e5", "#0ea5e9", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#14b8a6", "#64748b")


def _finish(fig: go.Figure, *, legend: bool = False) -> dict[str, Any]:
    figure: dict[str, Any] = fig.to_plotly_json()
    figure["layout"]["template"] = {}
    figure["layout"]["showlegend"] = legend
    if legend:
        figure["layout"]["legend"] = {"orientation": "h", "y": 1.15}
    return figure


def trend_figure(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[Decimal | None]]],
    *,
    y_title: str,
    y_percent: bool = False,
) -> dict[str, Any]:
    """Return one line per named series over period labels (a trend)."""
    fig = go.Figure(
        layout=_layout(x_title="", y_title=y_title, x_percent=False, y_percent=y_percent)
    )
    for i, (name, values) in enumerate(series):
        fig.add_trace(
            go.Scatter(
                x=list(labels),
                y=[None if v is None else float(v) for v in values],
                mode="lines+markers",
                name=name,
                line={"color": PALETTE[i % len(PALETTE)], "width": 3},
                marker={"size": 8},
                hovertemplate="%{x}: %{y:"
                + (".1%" if y_percent else ",.0f")
                + "}<extra>"
                + name
                + "</extra>",
            )
        )
    figure = _finish(fig, legend=len(series) > 1)
    figure["layout"]["xaxis"]["type"] = "category"
    figure["layout"]["yaxis"]["automargin"] = True
    if not y_percent:
        figure["layout"]["yaxis"]["tickformat"] = "~s"  # 4M, 250k: compact money ticks
    figure["layout"]["height"] = 280
    return figure


def box_figure(
    groups: Sequence[tuple[str, Sequence[Decimal]]], *, y_title: str = "Attainment"
) -> dict[str, Any]:
    """Return one box (with its points) per group: attainment fractions per plan."""
    fig = go.Figure(layout=_layout(x_title="", y_title=y_title, x_percent=False, y_percent=True))
    for i, (name, values) in enumerate(groups):
        fig.add_trace(
            go.Box(
                y=[float(v) for v in values],
                name=name,
                boxpoints="all",
                jitter=0.4,
                pointpos=0,
                marker={"color": PALETTE[i % len(PALETTE)], "size": 5, "opacity": 0.6},
                line={"color": PALETTE[i % len(PALETTE)]},
                hovertemplate="%{y:.0%}<extra>" + name + "</extra>",
            )
        )
    figure = _finish(fig)
    figure["layout"]["hovermode"] = "closest"
    figure["layout"]["xaxis"]["automargin"] = True
    figure["layout"]["height"] = 360
    return figure


def bar_figure(
    labels: Sequence[str], values: Sequence[Decimal], *, x_title: str, currency: str
) -> dict[str, Any]:
    """Return horizontal bars of an amount per label, largest on top."""
    fig = go.Figure(
        data=[
            go.Bar(
                y=list(labels),
                x=[float(v) for v in values],
                orientation="h",
                marker={"color": ACCENT},
                hovertemplate="%{y}: %{x:,.0f} " + currency + "<extra></extra>",
            )
        ],
        layout=_layout(x_title=x_title, y_title="", x_percent=False, y_percent=False),
    )
    figure = _finish(fig)
    figure["layout"]["yaxis"] = {"autorange": "reversed", "automargin": True, "type": "category"}
    figure["layout"]["hovermode"] = "closest"
    figure["layout"]["height"] = max(200, 44 * len(labels) + 80)
    return figure


# --- milestones (shared goals: dashboards/milestone_views.py) ----------------------------------


def milestone_figure(
    labels: Sequence[str], progress: Sequence[Decimal], hits: Sequence[bool]
) -> dict[str, Any]:
    """Return horizontal bars of each milestone's progress toward its threshold (0-100 %), a
    hit one filled, one not yet paler, with the 100 % line marked."""
    fig = go.Figure(
        data=[
            go.Bar(
                x=[float(p) for p in progress],
                y=list(labels),
                orientation="h",
                marker={"color": [ACCENT if h else "#a5b4fc" for h in hits]},
                text=["hit" if h else "not yet" for h in hits],
                textposition="auto",
                hovertemplate="%{y}: %{x:.0%}<extra></extra>",
            )
        ],
        layout=_layout(x_title="Progress toward the threshold", y_title="", x_percent=True,
                       y_percent=False),
    )  # fmt: skip
    figure: dict[str, Any] = fig.to_plotly_json()
    figure["layout"]["template"] = {}
    figure["layout"]["xaxis"]["range"] = [0, 1.05]
    figure["layout"]["yaxis"]["type"] = "category"
    figure["layout"]["yaxis"]["automargin"] = True
    figure["layout"]["yaxis"]["autorange"] = "reversed"
    figure["layout"]["height"] = max(160, 64 + 48 * len(labels))
    figure["layout"]["shapes"] = [
        {"type": "line", "x0": 1, "x1": 1, "y0": 0, "y1": 1, "yref": "paper",
         "line": {"color": "#111827", "width": 2, "dash": "dash"}}
    ]  # fmt: skip
    return figure


# --- the scheme view (plans/scheme.py): who is on what, and what depends on whom --------------


def flow_figure(
    nodes: Sequence[tuple[str, bool]], links: Sequence[tuple[int, int, int, str, bool]]
) -> dict[str, Any]:
    """Return a sankey of ``nodes`` (label, primary) joined by ``links`` (source index, target
    index, value, hover text, flagged): primary nodes in the accent colour, the others pale;
    plain links grey, flagged ones (a dependency) red."""
    fig = go.Figure(
        data=[
            go.Sankey(
                arrangement="snap",
                node={
                    "label": [label for label, _p in nodes],
                    "pad": 18,
                    "thickness": 16,
                    "color": [ACCENT if primary else "#c7d2fe" for _l, primary in nodes],
                    "line": {"color": "#111827", "width": 0.5},
                },
                link={
                    "source": [s for s, _t, _v, _h, _f in links],
                    "target": [t for _s, t, _v, _h, _f in links],
                    "value": [v for _s, _t, v, _h, _f in links],
                    "customdata": [h for _s, _t, _v, h, _f in links],
                    "color": ["rgba(239,68,68,0.55)" if f else "rgba(100,116,139,0.25)"
                              for _s, _t, _v, _h, f in links],
                    "hovertemplate": "%{source.label} → %{target.label}: %{customdata}"
                    "<extra></extra>",
                },
            )
        ]
    )  # fmt: skip
    figure = _finish(fig)
    figure["layout"]["font"] = {"family": FONT, "size": 12}
    figure["layout"]["margin"] = {"l": 8, "r": 8, "t": 8, "b": 8}
    figure["layout"]["height"] = max(240, 36 * len(nodes) + 40)
    return figure
