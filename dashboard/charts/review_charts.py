"""The weekly review's chart builders: ready frames in, plotly figures out (the page draws them, the report embeds
them as images). Each figure is built in one pass, like the what-if's, and in the shared look."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from dashboard.charts.charts import (
    ACCEPTED_COLOR,
    ACTUAL_COLOR,
    LOW_RATE_COLOR,
    RATE_COLOR,
    empty_figure,
    line_traces,
    look,
)

WEEK_COLOR = RATE_COLOR
LATE_COLOR = LOW_RATE_COLOR
WAITING_COLOR = "#f0a35e"


# The shared look, on white (the report prints these charts), with the legend above the plot, under the title:
# below it, the legend would meet the x-axis title.
REVIEW_LOOK = {
    "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom", "traceorder": "normal"},
    "plot_bgcolor": "white",
    "paper_bgcolor": "white",
}


def _layout(title: str, height: int, **layout) -> dict:
    return look(title, height, top=90, **{**REVIEW_LOOK, **layout})


def trend_chart(trend: pl.DataFrame, *, week: str, title: str, partial: tuple[str, ...] = ()) -> go.Figure:
    """MQLs per week as bars (the reviewed week highlighted) and the acceptance rate as a line on its own axis; a week
    not over yet (partial) is hatched, its rate hollow and dashed, and the title says so."""
    if trend.is_empty() or trend["mqls"].sum() == 0:
        return empty_figure(title, "No MQLs in these weeks.")
    weeks = trend["week"].to_list()
    unfinished = [w in partial for w in weeks]
    data = [
        {
            "type": "bar",
            "x": weeks,
            "y": trend["mqls"].to_list(),
            "name": "MQLs",
            "marker": {
                "color": [WEEK_COLOR if w == week else ACTUAL_COLOR for w in weeks],
                "pattern": {"shape": ["/" if u else "" for u in unfinished], "fgcolor": "white"},
            },
            "text": [f"{n:,}" for n in trend["mqls"]],
            # at the foot of each bar, clear of the acceptance line
            "textposition": "inside",
            "insidetextanchor": "start",
            "insidetextfont": {"color": "white"},
            "hovertemplate": "%{x}: %{y:,} MQLs<extra></extra>",
        },
        *line_traces(
            weeks,
            trend["rate"].to_list(),
            unfinished,
            name="Acceptance rate (right axis)",
            line={"color": ACCEPTED_COLOR, "width": 2.5},
            mode="lines+markers",
            yaxis="y2",
            customdata=trend.select("accepted", "decided").rows(),
            hovertemplate="%{x}: %{y:.1%} accepted (%{customdata[0]:,} of %{customdata[1]:,})<extra></extra>",
        ),
    ]
    if any(unfinished):
        title = f"{title} <span style='font-size:13px;color:#555'>(hatched, hollow: a week not over yet)</span>"
    layout = _layout(
        title,
        380,
        xaxis={
            "title": {"text": "ISO week of the hand-off to sales"},
            "type": "category",
            "tickangle": -30,
            "automargin": True,
        },
        yaxis={
            "title": {"text": "MQLs"},
            "tickformat": ",",
            "rangemode": "tozero",
            "gridcolor": "#e6e9ef",
            "automargin": True,
        },
        yaxis2={
            "title": {"text": "Acceptance rate"},
            "tickformat": ".0%",
            "range": [0, 1],
            "dtick": 0.2,
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "automargin": True,
        },
        bargap=0.3,
    )
    return go.Figure(data=data, layout=layout)


def breaches_chart(breaches: pl.DataFrame, *, sla_hours: float, title: str) -> go.Figure:
    """SLA breaches per rep, decided late and still waiting stacked; reps without a breach left out."""
    rows = breaches.filter(pl.col("breaches") > 0).reverse()  # plotly draws the first row at the bottom
    if rows.is_empty():
        return empty_figure(title, f"No MQL of this week went past the {sla_hours:g}-hour SLA.")
    reps = rows["rep"].to_list()
    most = int(rows["breaches"].max())
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "y": reps,
            "x": rows[column].to_list(),
            "name": name,
            "marker": {"color": color},
            "hovertemplate": "%{y}: %{x:,} " + name.lower() + "<extra></extra>",
        }
        for column, name, color in (
            ("decided_late", "Decided after the SLA", LATE_COLOR),
            ("waiting_late", "Waiting past the SLA", WAITING_COLOR),
        )
    ]
    layout = _layout(
        title,
        max(240, 110 + 28 * len(reps)),
        barmode="stack",
        xaxis={
            "title": {"text": f"MQLs past the {sla_hours:g}-hour SLA"},
            "tickformat": ",d",
            "rangemode": "tozero",
            "dtick": max(1, -(-most // 8)),  # whole MQLs only: small counts would get fractional ticks
            "gridcolor": "#e6e9ef",
            "automargin": True,
        },
        yaxis={"automargin": True, "ticksuffix": "  "},
    )
    return go.Figure(data=data, layout=layout)


def load_chart(load: pl.DataFrame, *, title: str) -> go.Figure:
    """Each sales tier's leads worked against its weekly capacity, this week and the week before."""
    if load.is_empty():
        return empty_figure(title, "No sales reps on record.")
    tiers = load["tier_label"].to_list()
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "y": tiers,
            "x": load[column].to_list(),
            "name": name,
            # over capacity stands out in colour this week, and in words in both
            "marker": {
                "color": [
                    LATE_COLOR if column == "utilisation" and u is not None and u > 1 else color
                    for u in load[column].to_list()
                ]
            },
            "text": [
                "–" if u is None else f"{u:.0%} ({n:,}/{c:,})"
                for u, n, c in load.select(column, leads, "capacity").iter_rows()
            ],
            "textposition": "outside",
            "cliponaxis": False,
            "hovertemplate": "%{y}: %{text}<extra>" + name + "</extra>",
        }
        for column, leads, name, color in (
            ("utilisation_before", "leads_before", "Week before", ACTUAL_COLOR),
            ("utilisation", "leads", "This week", WEEK_COLOR),
        )
    ]
    top = max([1.0, *(v for v in load["utilisation"].to_list() + load["utilisation_before"].to_list() if v)])
    capacity = {
        "type": "line",
        "xref": "x",
        "yref": "paper",
        "x0": 1,
        "x1": 1,
        "y0": 0,
        "y1": 1,
        "line": {"color": LATE_COLOR, "dash": "dash", "width": 1.5},
    }
    over = [t for t, u in zip(tiers, load["utilisation"].to_list(), strict=True) if u is not None and u > 1]
    if over:  # in words as well as in red: the chart may be printed in black and white
        title += (
            f"<br><span style='font-size:13px;color:{LATE_COLOR}'>Over capacity this week: {', '.join(over)}</span>"
        )
    layout = _layout(
        title,
        300 + (20 if over else 0),
        barmode="group",
        shapes=[capacity],
        annotations=[
            {
                "text": "capacity",
                "xref": "x",
                "yref": "paper",
                "x": 1,
                "y": 1,
                "xanchor": "left",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 12, "color": LATE_COLOR},
            }
        ],
        xaxis={
            "title": {"text": "Share of weekly capacity worked"},
            "tickformat": ".0%",
            "range": [0, top * 1.9],  # room for the longest text beside the longest bar
            "gridcolor": "#e6e9ef",
            "automargin": True,
        },
        yaxis={"automargin": True, "autorange": "reversed", "ticksuffix": "  "},
    )
    if over:  # the title's second line needs the room above the legend
        layout["margin"] = {**layout["margin"], "t": layout["margin"]["t"] + 24}
    return go.Figure(data=data, layout=layout)
