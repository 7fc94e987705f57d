"""Pure chart builders: ready polars frames in, plotly figures out, one shared look."""

from __future__ import annotations

from datetime import date, timedelta

import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
from plotly.subplots import make_subplots

from dashboard.domain import MAIN_PATH, STAGE_LABELS
from queries.acceptance import SMALL_SAMPLE

# No plotly template: Streamlit draws every chart in its own theme, and merging a named template into each
# figure cost about 30 ms a chart (a deep copy and validation of the whole template) on every rerun.
pio.templates.default = None
FONT = "Source Sans Pro, Helvetica, Arial, sans-serif"
STAGE_COLORS = dict(
    zip(
        (s.value for s in MAIN_PATH),
        ("#9db4d6", "#5b8fd1", "#2f6fbf", "#22589a", "#5d9c59", "#2e7d32"),
        strict=True,
    )
)
IMMATURE_FILL = "rgba(255, 183, 77, 0.18)"


def look(title: str, height: int, *, top: int = 60, **layout) -> dict:
    """The layout every chart shares: title, font, size, margins (top: the room above the plot); layout adds to it."""
    return {
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 17}},
        "font": {"family": FONT, "size": 13},
        "height": height,
        "margin": {"l": 10, "r": 10, "t": top, "b": 10},
        "hoverlabel": {"font": {"family": FONT}},
        **layout,
    }


def _base(fig: go.Figure, *, title: str, height: int = 420) -> go.Figure:
    fig.update_layout(**look(title, height))
    return fig


def _note(
    fig: go.Figure, text: str, *, x: float, y: float, anchor: str, color: str = "#666", yanchor: str = "auto"
) -> None:
    """A small explanatory line placed on the figure's paper, outside the data (yanchor: which of its edges is at y;
    top for a note under the plot, bottom for one over it)."""
    fig.add_annotation(
        text=text,
        xref="paper",
        yref="paper",
        x=x,
        y=y,
        showarrow=False,
        font={"size": 12, "color": color},
        xanchor=anchor,
        align=anchor if anchor in ("left", "right") else "center",
        yanchor=yanchor,
    )


def empty_figure(title: str, message: str = "No leads match these filters.") -> go.Figure:
    """A figure that says why it is empty instead of drawing empty axes."""
    fig = go.Figure()
    fig.add_annotation(
        text=message, showarrow=False, font={"size": 15, "color": "#666"}, x=0.5, y=0.5, xref="paper", yref="paper"
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _base(fig, title=title, height=260)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


# The days whose weeks count in full: (first, last). A week starting before first or ending after last is partial:
# drawn hollow and dashed, and said so, so that nobody reads a short week as a drop.
Period = tuple[date, date]
PARTIAL_NOTE = "Hollow points, dashed: partial weeks (not every day of the week is in the period yet)"


def partial_weeks(weeks: list, period: Period | None) -> list[bool]:
    """For each week (its Monday), whether the period holds only part of it."""
    if period is None:
        return [False] * len(weeks)
    first, last = period
    return [w is not None and (w < first or w + timedelta(days=6) > last) for w in weeks]


def complete_period(start: date, end: date, today: date) -> Period:
    """The period's days that are over: from its first day to the earlier of its end and yesterday."""
    return start, min(end, today - timedelta(days=1))


def _add_lines(fig: go.Figure, traces: list[dict], **where) -> None:
    """Add line_traces(...) to fig (where: the subplot's row and col, if any)."""
    for trace in traces:
        fig.add_trace(go.Scatter(**{k: v for k, v in trace.items() if k != "type"}), **where)


def _add_weekly_line(
    fig: go.Figure, part: pl.DataFrame, value: str, period: Period | None, *, where: dict | None = None, **trace
) -> None:
    """Add part's weekly line of value (one row per week, sorted) to fig, its partial weeks drawn apart."""
    weeks = part["week"].to_list()
    _add_lines(fig, line_traces(weeks, part[value].to_list(), partial_weeks(weeks, period), **trace), **(where or {}))


def _has_partial(frame: pl.DataFrame, period: Period | None) -> bool:
    return any(partial_weeks(frame["week"].unique().to_list(), period))


def line_traces(x: list, y: list, partial: list[bool], *, name: str, line: dict, **trace) -> list[dict]:
    """A weekly line whose partial weeks are drawn apart: the complete weeks solid, each partial week a hollow point
    joined to its neighbour by a dashed segment (its own trace, out of the legend)."""
    solid = [None if p else v for v, p in zip(y, partial, strict=True)]
    near = [p or (i > 0 and partial[i - 1]) or (i + 1 < len(partial) and partial[i + 1]) for i, p in enumerate(partial)]
    traces = [{"type": "scatter", "x": x, "y": solid, "name": name, "line": line, **trace}]
    if any(partial):
        dashed = [v if n else None for v, n in zip(y, near, strict=True)]
        extra = {k: v for k, v in trace.items() if k not in ("mode", "showlegend", "marker")}
        traces.append(
            {
                "type": "scatter",
                "x": x,
                "y": dashed,
                "name": f"{name} (partial week)",
                "mode": "lines+markers",
                "line": {**line, "dash": "dash"},
                "marker": {
                    "symbol": "circle-open",
                    "size": [9 if p else 0 for p in partial],
                    "color": line.get("color"),
                    "line": {"width": 2},
                },
                "showlegend": False,
                **extra,
            }
        )
    return traces


def funnel_chart(frame: pl.DataFrame, *, title: str = "Funnel") -> go.Figure:
    """The demand waterfall with each stage's count, % of previous stage and % of first stage."""
    if frame.is_empty() or frame["count"].sum() == 0:
        return empty_figure(title)
    rows = frame.sort("stage_order").to_dicts()
    fig = go.Figure(
        go.Funnel(
            y=[r["stage_label"] for r in rows],
            x=[r["count"] for r in rows],
            textinfo="none",
            marker={"color": [STAGE_COLORS[r["stage"]] for r in rows]},
            connector={"line": {"color": "#c8d3e0", "width": 1}, "fillcolor": "#eef2f7"},
            hovertemplate="%{y}: %{x:,} leads<extra></extra>",
        )
    )
    # The conversions sit in a column to the right of the funnel, where small stages cannot hide them.
    for r in rows:
        conversion = (
            f"{_pct(r['pct_of_previous'])} of previous · {_pct(r['pct_of_first'])} of first"
            if r["stage_order"] > 0
            else "first stage"
        )
        fig.add_annotation(
            x=1.0,
            xref="paper",
            xanchor="left",
            y=r["stage_label"],
            yref="y",
            text=f"<b>{r['count']:,}</b>  <span style='color:#555'>{conversion}</span>",
            showarrow=False,
            align="left",
        )
    fig = _base(fig, title=title)
    fig.update_layout(margin={"l": 10, "r": 300})
    return fig


def weekly_trend_chart(
    frame: pl.DataFrame, *, title: str, immature_from: date | None = None, period: Period | None = None
) -> go.Figure:
    """Leads per week at each stage, one panel per stage so small stages stay readable; partial weeks drawn apart."""
    if frame.is_empty() or frame["count"].sum() == 0:
        return empty_figure(title)
    shown = set(frame["stage"])  # the stages the data records (the page leaves out the ones it never does)
    stages = [s for s in MAIN_PATH if s.value in shown]
    fig = make_subplots(
        rows=(len(stages) + 2) // 3,
        cols=3,
        shared_xaxes=True,
        subplot_titles=[STAGE_LABELS[s] for s in stages],
        vertical_spacing=0.14,
        horizontal_spacing=0.06,
    )
    for i, stage in enumerate(stages):
        _add_weekly_line(
            fig,
            frame.filter(pl.col("stage") == stage.value).sort("week"),
            "count",
            period,
            where={"row": i // 3 + 1, "col": i % 3 + 1},
            name=STAGE_LABELS[stage],
            line={"color": STAGE_COLORS[stage.value], "width": 2},
            mode="lines+markers",
            marker={"size": 5},
            hovertemplate="Week of %{x|%d %b %Y}: %{y:,} leads<extra>" + STAGE_LABELS[stage] + "</extra>",
            showlegend=False,
        )
    notes = []
    if immature_from is not None:
        last = frame["week"].max()
        if last is not None and immature_from <= last:
            fig.add_vrect(x0=immature_from, x1=last, fillcolor=IMMATURE_FILL, line_width=0, row="all", col="all")
            notes.append("Shaded: recent cohorts, still settling")
    if _has_partial(frame, period):
        notes.append("hollow points, dashed: partial weeks")
    if notes:
        _note(fig, " · ".join(notes).capitalize() if not notes[0][0].isupper() else " · ".join(notes), x=1, y=1.13,
              anchor="right", color="#a15c00")  # fmt: skip
    fig.update_yaxes(rangemode="tozero", title_text=None)
    fig.update_xaxes(tickformat="%d %b", nticks=6)
    return _base(fig, title=title, height=120 + 180 * ((len(stages) + 2) // 3))


SMALL_SAMPLE_COLOR = "#c9ced6"
RATE_COLOR = "#2f6fbf"
LOW_RATE_COLOR = "#c0504d"


def acceptance_bars(frame: pl.DataFrame, *, label: str, title: str, benchmark: float | None = None) -> go.Figure:
    """Horizontal bars of acceptance rate per group, with the Wilson interval and the counts beside each rate."""
    rows = frame.filter(pl.col("decided") > 0)
    if rows.is_empty():
        return empty_figure(title, "No MQLs were decided in this period.")
    rows = rows.reverse()  # plotly draws the first row at the bottom
    colors = [SMALL_SAMPLE_COLOR if small else RATE_COLOR for small in rows["small_sample"]]
    # Counts sit in the category label so they never collide with the interval whiskers.
    labels = [
        f"{name}  <span style='color:#666'>{acc:,}/{dec:,}{' · small sample' if small else ''}</span>"
        for name, acc, dec, small in rows.select(label, "accepted", "decided", "small_sample").iter_rows()
    ]
    fig = go.Figure(
        go.Bar(
            y=labels,
            x=rows["rate"].to_list(),
            orientation="h",
            marker={"color": colors},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": (rows["rate_high"] - rows["rate"]).to_list(),
                "arrayminus": (rows["rate"] - rows["rate_low"]).to_list(),
                "color": "#333",
                "thickness": 1,
                "width": 3,
            },
            text=[f"{r:.0%}" for r in rows["rate"]],
            textposition="inside",
            insidetextanchor="start",
            insidetextfont={"color": "white"},
            # the plain group name first: a selection event reports it back for the drill-down
            customdata=rows.select(label, "rate_low", "rate_high", "accepted", "decided", "pending").rows(),
            hovertemplate="%{y}<br>Acceptance %{x:.1%} (95% interval %{customdata[1]:.0%}–%{customdata[2]:.0%})"
            "<br>%{customdata[3]:,} accepted of %{customdata[4]:,} decided · %{customdata[5]:,} pending<extra></extra>",
        )
    )
    if benchmark is not None:
        fig.add_vline(
            x=benchmark, line_dash="dot", line_color="#888", annotation_text="overall", annotation_position="top"
        )
    fig.update_xaxes(
        title_text="Acceptance rate (accepted ÷ decided), with 95% interval", tickformat=".0%", range=[0, 1]
    )
    fig.update_yaxes(title_text=None, automargin=True)
    return _base(fig, title=title, height=max(260, 60 + 26 * rows.height))


def acceptance_heatmap(frame: pl.DataFrame, *, title: str) -> go.Figure:
    """Acceptance rate per campaign (rows) and channel (columns); cells with a small sample are hatched grey."""
    rows = frame.filter(pl.col("decided") > 0)
    if rows.is_empty():
        return empty_figure(title, "No MQLs were decided in this period.")
    campaigns = rows.sort("channel_label", "campaign")["campaign"].unique(maintain_order=True).to_list()
    channels = rows["channel_label"].unique(maintain_order=False).sort().to_list()
    index = {(r["campaign"], r["channel_label"]): r for r in rows.iter_rows(named=True)}

    def cell(c: str, ch: str, solid: bool):
        r = index.get((c, ch))
        if r is None or r["small_sample"] == solid:
            return None
        return r["rate"]

    def hover(c: str, ch: str) -> str:
        r = index.get((c, ch))
        if r is None:
            return ""
        note = " · small sample" if r["small_sample"] else ""
        return f"{r['accepted']:,} accepted of {r['decided']:,} decided ({r['pending']:,} pending){note}"

    texts = [[hover(c, ch) for ch in channels] for c in campaigns]
    # the rate and its counts in every cell: a colour alone does not say how much it rests on
    labels = [
        [
            f"{index[(c, ch)]['rate']:.0%}<br>{index[(c, ch)]['accepted']:,}/{index[(c, ch)]['decided']:,}"
            if (c, ch) in index
            else ""
            for ch in channels
        ]
        for c in campaigns
    ]
    # the colour scale spans the rates shown (solid ones), so that differences between them are visible
    solid = [r["rate"] for r in rows.iter_rows(named=True) if not r["small_sample"] and r["rate"] is not None]
    low, high = (min(solid), max(solid)) if solid else (0.0, 1.0)
    if high - low < 0.05:
        low, high = max(0.0, low - 0.025), min(1.0, high + 0.025)
    fig = go.Figure()
    fig.add_trace(
        go.Heatmap(
            z=[[cell(c, ch, solid=True) for ch in channels] for c in campaigns],
            x=channels,
            y=campaigns,
            zmin=low,
            zmax=high,
            colorscale="RdYlGn",
            colorbar={"title": "Acceptance", "tickformat": ".0%"},
            text=labels,
            texttemplate="%{text}",
            textfont={"size": 10},
            customdata=texts,
            hovertemplate="%{y} · %{x}<br>Acceptance %{z:.0%}<br>%{customdata}<extra></extra>",
            xgap=2,
            ygap=2,
            name="solid",
        )
    )
    fig.add_trace(
        go.Heatmap(
            z=[[cell(c, ch, solid=False) for ch in channels] for c in campaigns],
            x=channels,
            y=campaigns,
            colorscale=[[0, SMALL_SAMPLE_COLOR], [1, SMALL_SAMPLE_COLOR]],
            showscale=False,
            text=[
                [(labels[i][j] + "*") if cell(c, ch, solid=False) is not None else "" for j, ch in enumerate(channels)]
                for i, c in enumerate(campaigns)
            ],
            texttemplate="%{text}",
            textfont={"size": 10},
            customdata=texts,
            hovertemplate="%{y} · %{x}<br>Too few decisions for a solid rate<br>%{customdata}<extra></extra>",
            xgap=2,
            ygap=2,
            name="small sample",
        )
    )
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(side="top", automargin=True)
    _note(
        fig,
        f"Colours span {low:.0%}–{high:.0%}, the rates shown; accepted/decided under each rate. "
        "* grey: fewer than 30 decisions, too few for a solid rate",
        x=0,
        y=0,
        anchor="left",
        yanchor="top",
    )
    fig.update_annotations(yshift=-6)
    fig = _base(fig, title=title, height=max(360, 170 + 32 * len(campaigns)))
    # room under the rows for the note, and above the channels' names for the title
    fig.update_layout(margin={"b": 36}, title={"automargin": True, "yref": "container"})
    return fig


# A weekly chart of many groups draws at most five in colour, each named at its line's end; the others are thin grey
# lines under one label, so that twenty channels still read as a handful of lines.
HIGHLIGHT_COLORS = ("#2f6fbf", "#c0504d", "#5d9c59", "#8064a2", "#f79646")
WORST_COLORS = ("#c0504d", "#e08a2c", "#8064a2")  # where the highlighted groups are the worst ones
OTHERS_COLOR = "#bcc3cd"
OTHERS_LABEL_COLOR = "#7d8591"  # their label darker than their lines, to be read
HOVER_FOR_NAME = "(hover a line for its name)"
END_LABEL_PX = 17  # the height of one end label: labels closer than this are pushed apart


def top_by_volume(frame: pl.DataFrame, *, label: str, volume: str, n: int) -> list[str]:
    """The n groups with the largest total volume over all weeks, largest first (ties by name); none without any."""
    totals = frame.group_by(label).agg(pl.col(volume).sum()).filter(pl.col(volume) > 0)
    return totals.sort([volume, label], descending=[True, False])[label].head(n).to_list()


def _spread(values: list[float], *, gap: float, low: float, high: float) -> list[float]:
    """The values moved apart, order kept, so that neighbours are at least gap apart, within low..high if they fit."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    placed = [values[i] for i in order]
    for k in range(1, len(placed)):  # upwards from the lowest
        placed[k] = max(placed[k], placed[k - 1] + gap)
    if placed and placed[-1] > high:  # then down from the top, if that went past it
        placed[-1] = max(high, low + gap * (len(placed) - 1))
        for k in range(len(placed) - 2, -1, -1):
            placed[k] = min(placed[k], placed[k + 1] - gap)
    spread = [0.0] * len(values)
    for i, y in zip(order, placed, strict=True):
        spread[i] = y
    return spread


def _end_labels(fig: go.Figure, labels: list[tuple[str, float, str]], *, gap: float, low: float, high: float) -> int:
    """Name each line at the right of the plot, beside its last value (text, y, colour); returns the margin needed."""
    spread = _spread([y for _, y, _ in labels], gap=gap, low=low, high=high)
    for (text, _, color), y in zip(labels, spread, strict=True):
        fig.add_annotation(
            text=text, x=1.01, xref="paper", xanchor="left", y=y, yref="y", showarrow=False, font={"color": color}
        )
    return 20 + 7 * max((len(text) for text, _, _ in labels), default=0)


def _highlighted_lines(
    fig: go.Figure,
    frame: pl.DataFrame,
    *,
    label: str,
    value: str,
    colors: dict[str, str],
    noun: str,
    period: Period | None,
    customdata: list[str],
    hovertemplate: str,
) -> list[tuple[str, float, str]]:
    """One weekly line per group: those in colors in their colour, the others thin and grey (drawn first, underneath);
    returns the end labels: each coloured group's, then one for the others together (text, y, colour)."""
    groups = frame[label].drop_nulls().unique().sort().to_list()
    others = [g for g in groups if g not in colors]
    ends: dict[str, float] = {}
    for name in others + [g for g in colors if g in groups]:
        part = frame.filter((pl.col(label) == name) & pl.col(value).is_not_null()).sort("week")
        if part.is_empty():
            continue
        strong = name in colors
        color = colors.get(name, OTHERS_COLOR)
        _add_weekly_line(
            fig,
            part,
            value,
            period,
            name=name,
            line={"color": color, "width": 2.5 if strong else 1},
            mode="lines+markers" if strong else "lines",
            marker={"size": 5},
            legendgroup=name,
            showlegend=False,
            customdata=part.select(customdata).rows(),
            hovertemplate=name + "<br>" + hovertemplate,
        )
        ends[name] = part[value][-1]
    labels = [(name, ends[name], color) for name, color in colors.items() if name in ends]
    grey = [ends[name] for name in others if name in ends]
    if grey:
        text = f"{len(grey)} other {noun}{'s' if len(grey) > 1 else ''}"
        labels.append((text, sum(grey) / len(grey), OTHERS_LABEL_COLOR))
    return labels


def weekly_acceptance_chart(
    current: pl.DataFrame, previous: pl.DataFrame, *, title: str, period: Period | None = None
) -> go.Figure:
    """Weekly acceptance rate per channel: the top channels by decided MQLs in colour, named at their end, with the
    previous period (shifted onto these weeks) dotted; the other channels thin and grey; partial weeks drawn apart."""
    decided = current.filter(pl.col("decided") > 0)
    if decided.is_empty():
        return empty_figure(title, "No MQLs were decided in this period.")
    height = 460
    fig = go.Figure()
    top = top_by_volume(decided, label="channel_label", volume="decided", n=len(HIGHLIGHT_COLORS))
    colors = dict(zip(top, HIGHLIGHT_COLORS, strict=False))
    for channel, color in colors.items():
        part = previous.filter((pl.col("channel_label") == channel) & (pl.col("decided") > 0)).sort("week")
        if part.is_empty():
            continue
        fig.add_trace(
            go.Scatter(
                x=part["week"].to_list(),
                y=part["rate"].to_list(),
                name=f"{channel} (previous period)",
                mode="lines",
                line={"color": color, "dash": "dot", "width": 1},
                opacity=0.7,
                legendgroup=channel,
                showlegend=False,
                customdata=part.select("accepted", "decided").rows(),
                hovertemplate=channel + " (previous period)<br>Week of %{x|%d %b}: %{y:.0%} accepted "
                "(%{customdata[0]:,} of %{customdata[1]:,} decided)<extra></extra>",
            )
        )
    labels = _highlighted_lines(
        fig,
        decided,
        label="channel_label",
        value="rate",
        colors=colors,
        noun="channel",
        period=period,
        customdata=["accepted", "decided"],
        hovertemplate="Week of %{x|%d %b %Y}: %{y:.0%} accepted (%{customdata[0]:,} of %{customdata[1]:,} decided)"
        "<extra></extra>",
    )
    fig.update_yaxes(title_text="Acceptance rate", tickformat=".0%", range=[0, 1])
    fig.update_xaxes(title_text="MQL week", tickformat="%d %b")
    note = "Dotted: the previous period, shifted onto these weeks"
    if _has_partial(decided, period):
        note += " · hollow points, dashed: partial weeks"
    if len(labels) > len(colors):  # some channels are grey: say which are in colour, and how to name a grey one
        note = (
            f"In colour: the {len(colors)} channels with the most decided MQLs; grey: the others "
            f"{HOVER_FOR_NAME}<br>{note}"
        )
    _note(fig, note, x=0, y=1.03, anchor="left", yanchor="bottom")
    fig = _base(fig, title=title, height=height)
    right = _end_labels(fig, labels, gap=END_LABEL_PX / (height - 150), low=0.0, high=1.0)
    fig.update_layout(margin={"t": 100, "r": right})
    return fig


KIND_COLORS = {"procedural": "#8064a2", "clerical": "#f79646", "definitional": "#c0504d"}


def pareto_chart(frame: pl.DataFrame, *, title: str) -> go.Figure:
    """Rejection reasons as horizontal bars, largest on top, each with its count and share; beside them, the share of
    all rejections that the reasons down to that row explain. Reasons nobody gave in the period are left out."""
    if frame.is_empty() or frame["count"].sum() == 0:
        return empty_figure(title, "No MQLs were rejected in this period.")
    given = frame.filter(pl.col("count") > 0)
    reasons = given["reason_label"].to_list()
    kinds = [k.capitalize() if k else "Unclassified" for k in given["reason_kind"]]
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, column_widths=[0.68, 0.32], horizontal_spacing=0.05)
    fig.add_trace(
        go.Bar(
            y=reasons,
            x=given["count"].to_list(),
            orientation="h",
            marker={"color": [KIND_COLORS.get(k, "#888") for k in given["reason_kind"]]},
            text=[f"{c:,} ({s:.0%})" for c, s in given.select("count", "share").iter_rows()],
            textposition="outside",
            cliponaxis=False,
            customdata=[[kind, share] for kind, share in zip(kinds, given["share"], strict=True)],
            hovertemplate="%{y}<br>%{x:,} rejections, %{customdata[1]:.0%} of all · %{customdata[0]} reason"
            "<extra></extra>",
            showlegend=False,
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            y=reasons,
            x=given["cumulative_share"].to_list(),
            mode="lines+markers+text",
            line={"color": "#333", "width": 1.5},
            marker={"size": 7},
            text=[f"{s:.0%}" for s in given["cumulative_share"]],
            textposition="top right",  # clear of the line, which runs down and to the right
            cliponaxis=False,
            hovertemplate="%{y} and the reasons above it: %{x:.0%} of rejections<extra></extra>",
            showlegend=False,
        ),
        row=1,
        col=2,
    )
    for kind, color in KIND_COLORS.items():  # the legend of the bars' colours, for the kinds drawn
        if kind in given["reason_kind"]:
            fig.add_trace(go.Bar(x=[None], y=[None], marker={"color": color}, name=kind.capitalize()), row=1, col=1)
    fig.add_vline(x=0.8, line_dash="dot", line_color="#888", row=1, col=2)
    most = int(given["count"].max())
    fig.update_xaxes(title_text="Rejections", range=[0, most * 1.3], rangemode="tozero", row=1, col=1)
    fig.update_xaxes(
        title_text="Cumulative share of rejections", tickformat=".0%", range=[0, 1.2], tickvals=[0, 0.4, 0.8], row=1,
        col=2,
    )  # fmt: skip
    fig.update_yaxes(autorange="reversed", automargin=True, ticksuffix="  ")
    fig.update_layout(
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"}, barmode="overlay"
    )
    fig = _base(fig, title=title, height=max(260, 140 + 34 * len(reasons)))
    if left_out := frame.height - given.height:
        reasons_word = "reason" if left_out == 1 else "reasons"
        _note(fig, f"Left out: {left_out} {reasons_word} no rejection of this period gives", x=0, y=1.02,
              anchor="left", yanchor="bottom")  # fmt: skip
    return fig


def kind_rate_bars(frame: pl.DataFrame, *, label: str, title: str) -> go.Figure:
    """Rejection rate by reason kind per group, stacked: how much of each group's decided MQLs each kind rejects."""
    if frame.is_empty():
        return empty_figure(title, "No MQLs were rejected in this period.")
    groups = (
        frame.group_by(label).agg(pl.col("rate").sum().alias("total")).sort("total", descending=False)[label].to_list()
    )
    fig = go.Figure()
    for kind, color in KIND_COLORS.items():
        part = frame.filter(pl.col("reason_kind") == kind)
        values = dict(zip(part[label], part.select("rate", "count", "decided").rows(), strict=True))
        fig.add_trace(
            go.Bar(
                y=groups,
                x=[values.get(g, (0, 0, 0))[0] for g in groups],
                orientation="h",
                name=kind.capitalize(),
                marker={"color": color},
                customdata=[values.get(g, (0, 0, 0))[1:] for g in groups],
                hovertemplate="%{y}<br>" + kind + ": %{x:.0%} (%{customdata[0]:,} of %{customdata[1]:,} decided)"
                "<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="stack", legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"}
    )
    fig.update_xaxes(title_text="Share of decided MQLs rejected", tickformat=".0%")
    fig.update_yaxes(automargin=True)
    return _base(fig, title=title, height=max(300, 90 + 24 * len(groups)))


def weekly_kind_chart(frame: pl.DataFrame, *, title: str, period: Period | None = None) -> go.Figure:
    """Rejections per week by reason kind; the week-over-week change in the hover and on the latest week."""
    if frame.is_empty() or frame["count"].sum() == 0:
        return empty_figure(title, "No MQLs were rejected in this period.")
    fig = go.Figure()
    for kind, color in KIND_COLORS.items():
        part = frame.filter(pl.col("reason_kind") == kind).sort("week")
        change = [("–" if c is None else f"{c:+,}") for c in part["change"]]
        _add_weekly_line(
            fig,
            part,
            "count",
            period,
            name=kind.capitalize(),
            line={"color": color, "width": 2},
            mode="lines+markers",
            customdata=change,
            hovertemplate=kind + " · week of %{x|%d %b}: %{y:,} (%{customdata} on the week before)<extra></extra>",
        )
    if _has_partial(frame, period):
        _note(fig, PARTIAL_NOTE, x=0, y=1.1, anchor="left")
    fig.update_yaxes(title_text="Rejections per week", rangemode="tozero")
    fig.update_xaxes(title_text="Decision week", tickformat="%d %b")
    fig.update_layout(legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"})
    return _base(fig, title=title, height=380)


def count_bars(frame: pl.DataFrame, *, label: str, title: str, x_title: str, color: str = "#5b8fd1") -> go.Figure:
    """Plain horizontal count bars, largest on top."""
    if frame.is_empty() or frame["count"].sum() == 0:
        return empty_figure(title, "Nothing in this period.")
    rows = frame.sort("count")
    fig = go.Figure(
        go.Bar(
            y=rows[label].to_list(),
            x=rows["count"].to_list(),
            orientation="h",
            marker={"color": color},
            text=[f"{c:,}" for c in rows["count"]],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:,}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text=x_title, rangemode="tozero")
    fig.update_yaxes(automargin=True)
    return _base(fig, title=title, height=max(260, 80 + 30 * rows.height))


# The share of a plot's width (~700 px) one character of a bar's outside text takes (~7 px), and the share its right
# margin adds: the x axis reaches far enough that every bar's text fits beside it instead of being cut at the edge.
CHAR_SHARE, MARGIN_SHARE = 0.01, 0.15


def hbar(
    frame: pl.DataFrame,
    *,
    label: str,
    value: str,
    title: str,
    x_title: str,
    text: list[str],
    tickformat: str | None = None,
    reference: tuple[float, str] | None = None,
    highlight_below: float | None = None,
    highlight_above: float | None = None,
) -> go.Figure:
    """Horizontal bars of one value per label, in the frame's order (first on top), with a text per bar."""
    if frame.is_empty():
        return empty_figure(title, "Nothing in this period.")
    rows = frame.reverse()
    values = rows[value].to_list()
    colors = [
        LOW_RATE_COLOR
        if v is not None
        and (
            (highlight_below is not None and v < highlight_below)
            or (highlight_above is not None and v > highlight_above)
        )
        else RATE_COLOR
        for v in values
    ]
    fig = go.Figure(
        go.Bar(
            y=rows[label].cast(pl.String).to_list(),
            x=values,
            orientation="h",
            marker={"color": colors},
            text=list(reversed(text)),
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{text}<extra></extra>",
        )
    )
    if reference is not None:
        fig.add_vline(
            x=reference[0],
            line_dash="dot",
            line_color="#888",
            annotation_text=reference[1],
            annotation_position="top",
            annotation_yshift=4,
        )
    # room beside the longest bar for its text: a label cut at the plot's edge says nothing
    needed = [
        (v or 0) / max(0.3, 1 + MARGIN_SHARE - CHAR_SHARE * len(t)) for v, t in zip(values, reversed(text), strict=True)
    ]
    reach = max([*needed, reference[0] * 1.1] if reference is not None else needed)
    fig.update_xaxes(title_text=x_title, tickformat=tickformat, range=[0, reach] if reach > 0 else None)
    fig.update_yaxes(automargin=True)
    fig = _base(fig, title=title, height=max(240, 80 + 26 * rows.height))
    fig.update_layout(margin={"r": 160})
    return fig


def weekly_compliance_chart(
    frame: pl.DataFrame, *, title: str, highlight: list[str], period: Period | None = None
) -> go.Figure:
    """SLA compliance per MQL week for each rep; the worst reps (highlight) in colour, named at their line's end, the
    others thin and grey."""
    if frame.is_empty():
        return empty_figure(title, "No MQLs were decided in this period.")
    height = 380
    fig = go.Figure()
    labels = _highlighted_lines(
        fig,
        frame,
        label="decided_by_name",
        value="sla_compliance",
        colors=dict(zip(highlight, WORST_COLORS, strict=False)),
        noun="rep",
        period=period,
        customdata=["decisions"],
        hovertemplate="Week of %{x|%d %b}: %{y:.0%} decided within the SLA (of %{customdata[0]:,} decisions)"
        "<extra></extra>",
    )
    notes = [f"In colour: the reps with the lowest compliance of the period; grey: the others {HOVER_FOR_NAME}"]
    if _has_partial(frame, period):
        notes.append(PARTIAL_NOTE)
    _note(fig, "<br>".join(notes), x=0, y=1.03, anchor="left", yanchor="bottom")
    fig.update_yaxes(title_text="Decided within the SLA", tickformat=".0%", range=[0, 1.02])
    fig.update_xaxes(title_text="MQL week", tickformat="%d %b")
    fig = _base(fig, title=title, height=height)
    right = _end_labels(fig, labels, gap=END_LABEL_PX / (height - 150), low=0.0, high=1.02)
    fig.update_layout(margin={"t": 95, "r": right})
    return fig


ACTUAL_COLOR = "#b0b8c4"
PROJECTED_COLOR = "#2f6fbf"
ESTIMATED_COLOR = "rgba(47, 111, 191, 0.35)"
ACCEPTED_COLOR = "#2e7d32"
REJECTED_COLOR = "#c62828"
WINS_COLOR = "#8e44ad"
# The what-if redraws its charts on every slider move: each is built in one go (traces and a whole layout),
# because every separate update_* call on a plotly figure validates it again.


def _layout(title: str, height: int, **layout) -> dict:
    return look(title, height, **{"legend": {"orientation": "h", "y": -0.2, "x": 0}, **layout})


def _subtitle(title: str, text: str) -> str:
    return f"{title} <span style='font-size:13px;color:#555'>({text})</span>"


def whatif_weekly_chart(frame: pl.DataFrame, *, title: str, period: Period | None = None) -> go.Figure:
    """MQLs per week the leads were created: the live rule replayed beside the proposal (split into observed and
    estimated: leads sales never saw), and what actually happened as a line of its own."""
    if frame.is_empty():
        return empty_figure(title)
    weeks = frame["week"].to_list()
    observed = (frame["projected_mqls"] - frame["projected_estimated"]).to_list()
    bars = (
        ("Live rule, replayed", frame["baseline_mqls"].to_list(), None, {"color": ACTUAL_COLOR}, "baseline",
         "MQLs under the live rule"),
        ("Proposal: observed", observed, None, {"color": PROJECTED_COLOR}, "projected", "observed MQLs"),
        (
            "Proposal: estimated",
            frame["projected_estimated"].to_list(),
            observed,
            {"color": ESTIMATED_COLOR, "pattern": {"shape": "/", "fgcolor": PROJECTED_COLOR}},
            "projected",
            "MQLs sales never saw (estimated)",
        ),
    )  # fmt: skip
    data = [
        {
            "type": "bar",
            "x": weeks,
            "y": y,
            "base": base,
            "name": name,
            "marker": marker,
            "offsetgroup": group,
            "hovertemplate": f"Week of %{{x|%d %b}}: %{{y:,}} {what}<extra></extra>",
        }
        for name, y, base, marker, group, what in bars
    ]
    partial = partial_weeks(weeks, period)
    if any(partial):  # a partial week's bars faded and said so: fewer leads there is not a drop
        for bar in data:
            bar["marker"] = {**bar["marker"], "opacity": [0.45 if p else 1.0 for p in partial]}
        title = _subtitle(title, "faded: partial weeks")
    data.append(
        {
            "type": "scatter",
            "x": weeks,
            "y": frame["actual_mqls"].to_list(),
            "name": "What happened",
            "mode": "lines+markers",
            "line": {"color": "#333333", "dash": "dot", "width": 1.5},
            "hovertemplate": "Week of %{x|%d %b}: %{y:,} actual MQLs<extra></extra>",
        }
    )
    layout = _layout(
        title,
        420,
        barmode="group",
        bargap=0.25,
        yaxis={"title": {"text": "MQLs"}, "tickformat": ","},
        xaxis={"title": {"text": "Week the leads were created"}, "tickformat": "%d %b"},
    )
    return go.Figure(data=data, layout=layout)


def tier_load_chart(frame: pl.DataFrame, *, tier: str, title: str, period: Period | None = None) -> go.Figure:
    """One sales tier's weekly work under the live rule and under the proposal, against its weekly capacity."""
    if frame.is_empty():
        return empty_figure(title)
    weeks = frame["week"].to_list()
    # the senior tier's SQLs include the estimated ones of leads sales never saw; the juniors' MQLs are counted
    mark = "≈ " if tier == "senior" else ""
    lines = (
        (
            f"{mark}Live rule",
            frame[f"{tier}_baseline"].to_list(),
            {"color": ACTUAL_COLOR, "width": 2.5},
            "lines+markers",
        ),
        (
            f"{mark}Proposal",
            frame[f"{tier}_projected"].to_list(),
            {"color": PROJECTED_COLOR, "width": 2.5},
            "lines+markers",
        ),
        (
            "Weekly capacity",
            frame[f"{tier}_capacity"].to_list(),
            {"color": REJECTED_COLOR, "dash": "dash", "width": 1.5},
            "lines",
        ),
    )
    partial = partial_weeks(weeks, period)
    data = [
        trace
        for name, y, line, mode in lines
        # a tier without active reps has no capacity to draw: a line at 0 would read as "none of the work fits"
        if name != "Weekly capacity" or any(y)
        for trace in line_traces(
            weeks,
            y,
            partial if name != "Weekly capacity" else [False] * len(weeks),
            name=name,
            line=line,
            mode=mode,
            hovertemplate=f"Week of %{{x|%d %b}}: %{{y:,.0f}} ({name.lower()})<extra></extra>",
        )
    ]
    over = over_capacity_weeks(frame, tier=tier)
    if over.height:
        data.append(
            {
                "type": "scatter",
                "x": over["week"].to_list(),
                "y": over["load"].to_list(),
                "customdata": over["share"].to_list(),
                "name": "Over capacity",
                "mode": "markers",
                "marker": {"color": LOW_RATE_COLOR, "size": 11, "symbol": "circle", "line": {"width": 0}},
                "hovertemplate": "Week of %{x|%d %b}: %{y:,.0f}, %{customdata:.0%} of capacity<extra></extra>",
            }
        )
    if any(partial):
        title = _subtitle(title, "hollow, dashed: partial weeks")
    if not any(frame[f"{tier}_capacity"]):
        title = _subtitle(title, "no active reps of this tier in the data: no capacity to compare")
    layout = _layout(
        title,
        360,
        yaxis={"title": {"text": "Leads per week"}, "tickformat": ",", "rangemode": "tozero"},
        xaxis={"title": {"text": "Week the leads were created"}, "tickformat": "%d %b"},
    )
    return go.Figure(data=data, layout=layout)


def over_capacity_weeks(frame: pl.DataFrame, *, tier: str) -> pl.DataFrame:
    """The weeks the proposal gives tier more work than its weekly capacity: week, load, share of capacity."""
    load, capacity = pl.col(f"{tier}_projected"), pl.col(f"{tier}_capacity")
    return frame.filter((capacity > 0) & (load > capacity)).select(
        "week", load.alias("load"), (load / capacity).alias("share")
    )


def over_capacity_words(frame: pl.DataFrame, *, tier: str, who: str) -> str:
    """How often and how far the proposal puts tier over its weekly capacity, in words."""
    over = over_capacity_weeks(frame, tier=tier)
    if over.is_empty():
        return f"{who} stay within their weekly capacity every week"
    return (
        f"{who} are over their weekly capacity in {over.height} of {frame.height} weeks "
        f"(up to {over['share'].max():.0%}, marked red)"
    )


def tradeoff_chart(frame: pl.DataFrame, *, title: str, current: float, proposed: float, top: int = 100) -> go.Figure:
    """As the threshold sweeps 0-top (the proposal's weights and gates): acceptance rate above, MQL volume and
    wins below; the live and the proposed thresholds marked."""
    if frame.is_empty() or frame["mqls"].max() == 0:
        return empty_figure(title)
    x = frame["threshold"].to_list()
    # A rate from a handful of decisions is noise: drawn only where enough leads were decided.
    rate = frame.select(pl.when(pl.col("decided") >= SMALL_SAMPLE).then(pl.col("acceptance_rate"))).to_series()
    data = [
        {
            "type": "scatter",
            "x": x,
            "y": rate.to_list(),
            "name": f"≈ Acceptance rate (where ≥{SMALL_SAMPLE} decided)",
            "line": {"color": ACCEPTED_COLOR, "width": 2.5},
            "yaxis": "y",
            "hovertemplate": "Threshold %{x}: ≈ %{y:.1%} accepted<extra></extra>",
        },
        {
            "type": "scatter",
            "x": x,
            "y": frame["mqls"].to_list(),
            "name": "MQLs",
            "line": {"color": PROJECTED_COLOR, "width": 2.5},
            "yaxis": "y2",
            "hovertemplate": "Threshold %{x}: %{y:,} MQLs<extra></extra>",
        },
        {
            "type": "scatter",
            "x": x,
            "y": frame["wins"].to_list(),
            "name": "≈ Wins (right axis)",
            "line": {"color": WINS_COLOR, "width": 2, "dash": "dot"},
            "yaxis": "y3",
            "hovertemplate": "Threshold %{x}: ≈ %{y:,.0f} wins<extra></extra>",
        },
    ]
    marks = [
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": value,
            "x1": value,
            "y0": 0,
            "y1": 1,
            "line": {"color": color, "dash": dash, "width": 2},
        }
        for value, color, dash in ((current, "#555", "dot"), (proposed, PROJECTED_COLOR, "dash"))
    ]
    layout = _layout(
        _subtitle(title, f"dotted: live {current:g} · dashed: proposed {proposed:g}"),
        520,
        shapes=marks,
        xaxis={"title": {"text": f"MQL threshold (score 0-{top})"}, "range": [0, top], "anchor": "y2"},
        yaxis={"title": {"text": "Acceptance"}, "tickformat": ".0%", "domain": [0.58, 1.0], "anchor": "x"},
        yaxis2={"title": {"text": "MQLs"}, "tickformat": ",", "rangemode": "tozero", "domain": [0.0, 0.5]},
        yaxis3={
            "title": {"text": "Wins"},
            "tickformat": ",.0f",
            "rangemode": "tozero",
            "overlaying": "y2",
            "side": "right",
            "showgrid": False,
        },
    )
    return go.Figure(data=data, layout=layout)


def score_distribution_chart(frame: pl.DataFrame, *, title: str, threshold: float, top: int = 100) -> go.Figure:
    """Decided leads by the proposal's score: accepted against rejected, with the proposed threshold."""
    if frame.is_empty():
        return empty_figure(title, "Sales has decided no lead under these filters.")
    data = []
    for decision, color in (("accepted", ACCEPTED_COLOR), ("rejected", REJECTED_COLOR)):
        part = frame.filter(pl.col("decision") == decision)
        data.append(
            {
                "type": "bar",
                "x": part["score_band"].to_list(),
                "y": part["leads"].to_list(),
                "name": decision.capitalize(),
                "marker": {"color": color},
                "offset": 0,
                "width": 2,
                "hovertemplate": f"Score %{{x}}–%{{x}}+2: %{{y:,}} {decision}<extra></extra>",
            }
        )
    mark = {
        "type": "line",
        "xref": "x",
        "yref": "paper",
        "x0": threshold,
        "x1": threshold,
        "y0": 0,
        "y1": 1,
        "line": {"color": PROJECTED_COLOR, "dash": "dash", "width": 2},
    }
    layout = _layout(
        _subtitle(title, f"dashed: proposed {threshold:g}"),
        380,
        barmode="stack",
        bargap=0.05,
        shapes=[mark],
        xaxis={"title": {"text": f"Score under the proposal (0-{top})"}, "range": [0, top]},
        yaxis={"title": {"text": "Decided leads"}, "tickformat": ","},
    )
    return go.Figure(data=data, layout=layout)
