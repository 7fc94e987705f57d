"""The what-if page's widgets: the rule controls, the projected figures, the tables and the scenarios panel."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import streamlit as st

from dashboard.data import data, scoring_data
from dashboard.domain import ScoreComponent
from dashboard.refusals import Refused
from dashboard.store.db import DatabaseUnavailable
from dashboard.store.scoring import rule_of
from dashboard.ui import components, signin
from dashboard.ui.columns import columns
from dashboard.ui.text import plain
from queries.scoring import ScoringRule
from queries.whatif import LiveRule

WEIGHT_KEYS = {c: f"whatif_w_{c.value}" for c in ScoreComponent}
THRESHOLD_KEY = "whatif_threshold"
# The page's sections below the headline and the weekly chart, each run only when its tab is open.
SCENARIOS = "Scenarios"
SECTIONS = (
    "What it costs and adds",
    "Load on sales",
    "By channel and campaign",
    "Trade-off",
    "Track record",
    SCENARIOS,
)
SECTION_KEY = "whatif_section"
GATE_KEYS = {
    "gate_known_company": ("whatif_gate_company", "Known company"),
    "gate_budget": ("whatif_gate_budget", "Budget confirmed"),
    "gate_authority": ("whatif_gate_authority", "Authority-level role"),
}
TIMELINE_KEY, MONTHS_KEY = "whatif_gate_timeline", "whatif_timeline_months"
# Every key of the rule; the entry script keeps them while another page is open.
STATE_KEYS = (
    *WEIGHT_KEYS.values(),
    THRESHOLD_KEY,
    *(k for k, _ in GATE_KEYS.values()),
    TIMELINE_KEY,
    MONTHS_KEY,
    "whatif_crm_threshold",
    "whatif_score_source",
)


def keep_state() -> None:
    """Keep the proposal while another page is shown (Streamlit drops the state of widgets it does not draw)."""
    for key in STATE_KEYS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def _state_of(rule: ScoringRule) -> dict:
    total = sum(rule.weight(c) for c in ScoreComponent) or 1.0
    state = {key: round(100 * rule.weight(c) / total) for c, key in WEIGHT_KEYS.items()}
    state[THRESHOLD_KEY] = float(rule.mql_threshold)
    state.update({key: getattr(rule, field) for field, (key, _) in GATE_KEYS.items()})
    state[TIMELINE_KEY] = rule.gate_timeline_months is not None
    state[MONTHS_KEY] = rule.gate_timeline_months or 6
    return state


def load_rule(rule: ScoringRule) -> None:
    """Set the controls to rule (a callback: it only sets session state)."""
    st.session_state.update(_state_of(rule))


def _gate_controls() -> None:
    """The gates a lead must also pass: one toggle each, and the timeline's months."""
    st.markdown("**Gates** a lead must also pass")
    gates = st.columns(2)
    for index, (key, label) in enumerate(GATE_KEYS.values()):
        gates[index % 2].toggle(label, key=key)
    timeline = gates[1].toggle("Timeline gate", key=TIMELINE_KEY)
    gates[1].number_input("Timeline within (months)", 1, 36, step=1, key=MONTHS_KEY, disabled=not timeline)


def _gates(state) -> dict:
    """The gate fields of a ScoringRule, as the controls set them."""
    return {
        **{field: bool(state[key]) for field, (key, _) in GATE_KEYS.items()},
        "gate_timeline_months": int(state[MONTHS_KEY]) if state[TIMELINE_KEY] else None,
    }


def rule_controls(active: LiveRule) -> ScoringRule:
    """Weights, threshold and gates, starting from the active model; returns the proposal they describe."""
    for key, value in _state_of(active.rule).items():
        st.session_state.setdefault(key, value)
    st.session_state.setdefault("whatif_active_version", active.version)
    if st.session_state["whatif_active_version"] != active.version:  # a new model was applied: start from it
        st.session_state["whatif_active_version"] = active.version
        load_rule(active.rule)
    weights, rules = st.columns([3, 2], gap="large")
    with weights:
        st.markdown("**Weights** (relative: the score is the weighted mean of the four 0-100 sub-scores)")
        columns = st.columns(2)
        for index, (component, key) in enumerate(WEIGHT_KEYS.items()):
            columns[index % 2].slider(f"{component.value.capitalize()} weight", 0, 100, step=1, key=key, format="%d")
    with rules:
        st.slider("MQL threshold (score 0-100)", 0.0, 100.0, step=1.0, key=THRESHOLD_KEY, format="%.0f")
        _gate_controls()
        st.button(
            f"Reset to the active model (v{active.version})",
            on_click=load_rule,
            args=(active.rule,),
            key="whatif_reset",
            icon=":material/restart_alt:",
        )
    state = st.session_state
    return ScoringRule(
        **{f"w_{c.value}": state[key] / 100 for c, key in WEIGHT_KEYS.items()},
        mql_threshold=float(state[THRESHOLD_KEY]),
        **_gates(state),
    )


CRM_THRESHOLD_KEY = "whatif_crm_threshold"


def crm_rule_controls(base: data.WhatIfBase) -> ScoringRule:
    """A threshold on the CRM's own score and the gates, starting from the threshold that reproduces the CRM's
    MQLs best; returns the proposal they describe (its weights are not used on the CRM's score)."""
    reproduced = base.baseline.mql_threshold
    st.session_state.setdefault(CRM_THRESHOLD_KEY, reproduced)
    for key, value in _state_of(ScoringRule()).items():
        if key not in WEIGHT_KEYS.values() and key != THRESHOLD_KEY:
            st.session_state.setdefault(key, value)
    threshold, rules = st.columns([3, 2], gap="large")
    with threshold:
        st.slider(
            f"MQL threshold on the CRM's score (0-{base.score_top})",
            0.0,
            float(base.score_top),
            step=1.0,
            key=CRM_THRESHOLD_KEY,
            format="%.0f",
        )
        if base.crm_agreement is not None:
            st.caption(
                f"The export holds the CRM's score but not the rule it used: a threshold of {reproduced:.0f} "
                f"reproduces {base.crm_agreement:.0%} of its hand-offs (leads scored {reproduced:.0f} or more "
                "became MQLs, the others did not)."
                + (
                    " The CRM's MQLs follow its score loosely, so read the replay as a rough guide."
                    if base.crm_agreement < 0.8
                    else ""
                )
            )
        st.button(
            f"Reset to the CRM's threshold ({reproduced:.0f})",
            on_click=lambda: st.session_state.update({CRM_THRESHOLD_KEY: reproduced}),
            key="whatif_crm_reset",
            icon=":material/restart_alt:",
        )
    with rules:
        _gate_controls()
    state = st.session_state
    return ScoringRule(
        mql_threshold=float(state[CRM_THRESHOLD_KEY]),
        **_gates(state),
    )


def _change(projected: float, baseline: float, *, percent: bool = False) -> str:
    if percent:
        return f"{(projected - baseline) * 100:+.1f} pp vs live rule {baseline:.1%}"
    return f"{projected - baseline:+,.0f} vs live rule {baseline:,.0f}"


def interval(value: float | None, half: float, *, percent: bool = False) -> str:
    """ "95%: 1,880–2,034" for a figure with an estimated part (half: its half-width)."""
    if value is None:
        return ""
    low, high = max(value - half, 0.0), value + half
    return f"95%: {low:.1%}–{high:.1%}" if percent else f"95%: {low:,.0f}–{high:,.0f}"


def _metric(column, label: str, value: str, *, change: float | None, delta: str | None, note: str, help: str) -> None:
    """One headline figure: its change against the live rule (no arrow when there is none) and, under it, the
    interval of an estimated figure, shown rather than hidden in a tooltip."""
    moved = change is not None and round(change, 6) != 0
    column.metric(
        label,
        value,
        delta=delta,
        delta_color="normal" if moved else "off",
        delta_arrow="auto" if moved else "off",
        border=True,
        help=help,
    )
    if note:
        column.caption(note)


def projected_kpis(total: dict) -> None:
    """The headline: projected MQLs, acceptance, SQLs and wins against the live rule replayed over the same leads,
    each estimated figure marked ≈ with its 95% interval under it."""
    estimated = total["projected_estimated"] > 0
    mark = "≈ " if estimated else ""
    cols = st.columns(4)
    _metric(
        cols[0],
        "Projected MQLs",
        f"{total['projected_mqls']:,}",
        change=total["mql_change"],
        delta=_change(total["projected_mqls"], total["baseline_mqls"]),
        note="",
        help=f"Against the live rule: {total['added']:,} added, {total['removed']:,} removed.",
    )
    rate, baseline = total["projected_rate"], total["baseline_rate"]
    _metric(
        cols[1],
        "Projected acceptance",
        f"{mark}{rate:.1%}" if rate is not None else "–",
        change=total["rate_change"],
        delta=_change(rate, baseline, percent=True) if rate is not None and baseline is not None else None,
        note=f"95%: {total['projected_rate_low']:.1%}–{total['projected_rate_high']:.1%}"
        if estimated and rate is not None
        else "",
        help="Accepted ÷ decided, the estimated leads counted as decided with their chance of acceptance.",
    )
    for col, name, label in ((cols[2], "sqls", "Projected SQLs"), (cols[3], "wins", "Projected wins")):
        value = total[f"projected_{name}"]
        _metric(
            col,
            label,
            f"{mark}{value:,.0f}",
            change=total[f"{name}_change"],
            delta=_change(value, total[f"baseline_{name}"]),
            note=interval(value, total[f"{name}_half_width"]) if estimated else "",
            help="The 95% interval holds the estimated leads' own chance and how sure the fitted model is of them.",
        )


def estimate_note(total: dict, base: data.WhatIfBase) -> None:
    """How much of the projection is estimated, and from what."""
    model = base.propensities.accept
    fitted = f"{model.rows:,} decided leads" if model else "no decided leads (a flat assumption)"
    check = base.propensities.calibration_error["accept"]
    st.caption(
        f"**Estimated:** {total['projected_estimated']:,} of the {total['projected_mqls']:,} projected MQLs "
        f"({total['estimated_share']:.1%}) never reached sales, so their acceptance, SQLs and wins are estimated by "
        f"a logistic model fitted on {fitted} ({base.spot_checked:,} of them reviewed below the threshold). "
        "Their intervals hold the leads' own chance and the model's uncertainty, wider the further a lead is from "
        f"the ones it was fitted on (held-out check: acceptance off by {check:.1%} on average)."
    )


def reconciliation_note(total: dict, base: data.WhatIfBase, start: date) -> None:
    """The live rule's replay set against what actually happened: its own line, never part of a proposal's effect,
    with the earlier models that judged part of the period."""
    live = (
        f"The CRM's rule as this data shows it (threshold {base.baseline.mql_threshold:.0f})"
        if base.crm
        else f"The live rule (v{base.active.version})"
    )
    rate, actual_rate = total["baseline_rate"], total["actual_rate"]
    rates = f"; acceptance {rate:.1%} against {actual_rate:.1%}" if rate is not None and actual_rate is not None else ""
    why = "from the CRM's own decisions, which its score does not fully explain"
    active = base.active
    if not base.crm and active is not None and active.active_from.date() > start:
        earlier = [
            f"v{m.version}"
            for m in base.models
            if m.version != active.version and (m.active_to or active.active_from).date() > start
        ]
        why = f"from model {', '.join(earlier)}, which judged the leads created before {active.active_from:%d %b %Y}"
    elif not base.crm:
        why = "from leads sales reviewed or has not decided yet"
    if total["baseline_mqls"] == total["actual_mqls"] and total["baseline_estimated"] == 0:
        st.caption(f"**Live rule against what happened:** {live} replayed over these leads gives what happened.")
        return
    st.caption(
        f"**Live rule against what happened:** {live} replayed over these leads hands {total['baseline_mqls']:,} "
        f"MQLs to sales; {total['actual_mqls']:,} actually became MQLs{rates}. The difference comes {why}, not "
        "from the proposal: every change above is measured against the replay."
    )


FIGURE_COLUMNS = {
    **columns("campaign", "channel_label"),
    "baseline_mqls": st.column_config.NumberColumn("Live rule MQLs", format="localized"),
    **columns("projected_mqls"),
    "mql_change": st.column_config.NumberColumn("Change", format="%+d"),
    "baseline_rate": st.column_config.NumberColumn("Live rule acceptance", format="percent"),
    # ≈: partly estimated (leads sales never saw, their share in "Estimated share"), with the 95% interval beside
    "projected_rate": st.column_config.NumberColumn("≈ Projected acceptance", format="percent"),
    "projected_rate_low": st.column_config.NumberColumn("95% low", format="percent"),
    "projected_rate_high": st.column_config.NumberColumn("95% high", format="percent"),
    "baseline_wins": st.column_config.NumberColumn("≈ Live rule wins", format="%.0f"),
    "projected_wins": st.column_config.NumberColumn("≈ Projected wins", format="%.0f"),
    "wins_half_width": st.column_config.NumberColumn("Wins ± (95%)", format="± %.0f"),
    "lost_accepted": st.column_config.NumberColumn("Accepted lost", format="localized"),
    **columns("lost_wins"),
    "added": st.column_config.NumberColumn("Added", format="localized"),
    **columns("estimated_share"),
}


def figures_table(frame: pl.DataFrame, *, label: str, file_stem: str) -> None:
    """Actual against projected per group, sorted by the size of the change."""
    shown = frame.select(label, *[c for c in FIGURE_COLUMNS if c in frame.columns and c != label])
    st.dataframe(shown, hide_index=True, width="stretch", column_config=FIGURE_COLUMNS)
    components.table_downloads(shown, file_stem=file_stem, columns=FIGURE_COLUMNS)


LIST_COLUMNS = {
    **columns("external_id", "campaign", "channel_label"),
    "created_at": st.column_config.DatetimeColumn("Created", format="YYYY-MM-DD"),
    "score": st.column_config.NumberColumn("Score (proposal)", format="%.1f"),
    "won": st.column_config.CheckboxColumn("Won"),
    "p_accept": st.column_config.NumberColumn("P(accept), estimated", format="percent"),
    "p_win": st.column_config.NumberColumn("P(win), estimated", format="percent"),
}


def leads_list(frame: pl.DataFrame, *, total: int, columns: list[str], file_stem: str, every, empty: str) -> None:
    """The first rows of a list of leads, with the whole list downloadable (written on demand)."""
    if total == 0:
        st.caption(empty)
        return
    more = f"; the first {frame.height:,} shown, all {total:,} in the download" if total > frame.height else ""
    st.caption(f"{total:,} leads{more}")
    st.dataframe(frame.select(columns), hide_index=True, width="stretch", column_config=LIST_COLUMNS)
    components.table_downloads(lambda: every().select(columns), file_stem=file_stem, what="all", columns=LIST_COLUMNS)


def scenario_panel(url: str, rule: ScoringRule, view_of) -> None:
    """Save the proposal as a named scenario, compare saved ones side by side, apply one as the active model."""
    try:
        saved = scoring_data.scenarios(url)
    except DatabaseUnavailable as exc:
        st.error(str(exc), icon=":material/cloud_off:")
        return
    with st.form("whatif_save", clear_on_submit=True, border=True):
        st.markdown("**Save the current proposal as a scenario**")
        name_col, author_col = st.columns(2)
        name = name_col.text_input("Scenario name", key="whatif_scenario_name", max_chars=80)
        with author_col:
            author = signin.author_field("Author", key="whatif_scenario_author", max_chars=80)
        note = st.text_input("Note", key="whatif_scenario_note", max_chars=500)
        if st.form_submit_button("Save scenario", icon=":material/save:"):
            try:
                scoring_data.save_scenario(
                    url=url, name=name, author=author, note=note, rule=rule, now=datetime.now(), actor=signin.acting()
                )
            except (Refused, DatabaseUnavailable) as exc:
                st.error(plain(exc))
            else:
                st.toast(f"Saved “{plain(name.strip())}”.", icon=":material/check:")
                st.rerun()
    if not saved:
        st.caption("No saved scenarios yet.")
        return
    names = [s.name for s in saved]
    picked = st.multiselect("Compare", options=names, default=names[:3], key="whatif_compare")
    rows = []
    for scenario in (s for s in saved if s.name in picked):
        scenario_rule = rule_of(scenario)
        total = view_of(scenario_rule).total.row(0, named=True)
        rows.append(_comparison_row(scenario.name, scenario.author, scenario_rule, total))
    rows.append(_comparison_row("Current proposal", "", rule, view_of(rule).total.row(0, named=True)))
    comparison = pl.DataFrame(rows)
    st.dataframe(comparison, hide_index=True, width="stretch", column_config=COMPARISON_COLUMNS)
    components.table_downloads(comparison, file_stem="whatif_scenarios", columns=COMPARISON_COLUMNS)
    with st.form("whatif_apply", border=True):
        st.markdown("**Apply a scenario as the new active scoring model**")
        choice = st.selectbox("Scenario", options=names, key="whatif_apply_choice")
        applier = signin.author_field("Your name", key="whatif_apply_author", max_chars=80)
        reason = st.text_input("Reason for the change", key="whatif_apply_reason", max_chars=500)
        if st.form_submit_button("Apply as the active model", type="primary", icon=":material/published_with_changes:"):
            chosen = next(s for s in saved if s.name == choice)
            try:
                version = scoring_data.apply_rule(
                    url=url,
                    rule=rule_of(chosen),
                    author=applier,
                    reason=reason,
                    now=datetime.now(),
                    actor=signin.acting(),
                )
            except (Refused, DatabaseUnavailable) as exc:
                st.error(plain(exc))
            else:  # shown with st.success, which reads markdown
                st.session_state["whatif_applied"] = f"“{plain(choice)}” is now scoring model v{version.version}."
                st.rerun()


COMPARISON_COLUMNS = {
    "scenario": st.column_config.TextColumn("Scenario"),
    "author": st.column_config.TextColumn("Author"),
    "threshold": st.column_config.NumberColumn("Threshold", format="%.0f"),
    "weights": st.column_config.TextColumn("Weights D/F/B/E"),
    "gates": st.column_config.TextColumn("Gates"),
    **columns("projected_mqls"),
    "projected_rate": st.column_config.NumberColumn("Acceptance", format="percent"),
    "projected_wins": st.column_config.NumberColumn("Wins", format="%.0f"),
    **columns("lost_wins", "estimated_share"),
}


def _comparison_row(name: str, author: str, rule: ScoringRule, total: dict) -> dict:
    weights = [rule.weight(c) for c in ScoreComponent]
    share = [round(100 * w / (sum(weights) or 1)) for w in weights]
    gates = [label for field, (_, label) in GATE_KEYS.items() if getattr(rule, field)]
    if rule.gate_timeline_months is not None:
        gates.append(f"timeline ≤ {rule.gate_timeline_months} mo")
    return {
        "scenario": name,
        "author": author,
        "threshold": rule.mql_threshold,
        "weights": "/".join(str(s) for s in share),
        "gates": ", ".join(gates) or "none",
        **{k: total[k] for k in ("projected_mqls", "projected_rate", "projected_wins", "lost_wins", "estimated_share")},
    }


def model_history(frame: pl.DataFrame) -> None:
    """The scoring model versions: when each was live, who made it and why."""
    shown = frame.select(
        pl.format("v{}", pl.col("version")).alias("Version"),
        pl.col("mql_threshold").alias("Threshold"),
        pl.col("active_from").dt.strftime("%Y-%m-%d %H:%M").alias("Live from"),
        pl.col("active_to").dt.strftime("%Y-%m-%d %H:%M").fill_null("now").alias("Live until"),
        pl.col("author").alias("Author"),
        pl.col("note").alias("Reason"),
    )
    st.dataframe(
        shown, hide_index=True, width="stretch", column_config={"Threshold": st.column_config.NumberColumn(format="%g")}
    )
    components.table_downloads(shown, file_stem="scoring_models")


QUALITY_COLUMNS = {
    "rule": st.column_config.TextColumn("MQL gate"),
    "passed": st.column_config.NumberColumn("Decided leads it passes", format="localized"),
    "accepted": st.column_config.NumberColumn("Accepted by sales", format="localized"),
    "accepted_passed": st.column_config.NumberColumn("Both", format="localized"),
    "precision": st.column_config.NumberColumn("Precision", format="percent", help="Accepted among those it passes"),
    "recall": st.column_config.NumberColumn("Recall", format="percent", help="Share of the accepted it passes"),
}


def _held(held: bool | None) -> str:
    return "–" if held is None else ("✓ held" if held else "✗ missed")


def _track_rows(frame: pl.DataFrame) -> pl.DataFrame:
    rows = []
    for r in frame.iter_rows(named=True):
        rate = (
            f"{r['projected_rate']:.1%} ({r['rate_low']:.1%}–{r['rate_high']:.1%})"
            if r["projected_rate"] is not None
            else "–"
        )
        rows.append(
            {
                "Forecast made": r["change"],
                "Fitted on (decided leads)": f"{r['fitted_on']:,}",
                "MQLs after": f"{r['mqls']:,}",
                "Acceptance forecast (95%)": rate,
                "Acceptance actual": f"{r['actual_rate']:.1%}" if r["actual_rate"] is not None else "–",
                "Acceptance": _held(r["rate_held"]),
                "SQLs forecast": f"{r['projected_sqls']:,.0f} ± {r['sqls_half_width']:,.0f}" if r["mature"] else "–",
                "SQLs actual": f"{r['actual_sqls']:,}" if r["mature"] else "–",
                "Wins forecast": f"{r['projected_wins']:,.0f} ± {r['wins_half_width']:,.0f}" if r["mature"] else "–",
                "Wins actual": f"{r['actual_wins']:,}" if r["mature"] else "–",
                "SQLs and wins": f"{_held(r['sqls_held'] and r['wins_held'])} on {r['mature']:,} mature MQLs"
                if r["mature"]
                else "none old enough yet",
            }
        )
    return pl.DataFrame(rows)


def track_record_panel(record_of, *, first: date, last: date) -> None:
    """Each past scoring-model change (and a cut-off the user picks) replayed as the forecast the page would have
    made then, against what happened after: how far to trust it before applying a new rule."""
    st.caption(
        "Each scoring-model change replayed as a forecast made when it went live: the estimates fitted only on the "
        "leads decided by then, applied to the leads the new rule handed to sales afterwards, and set against what "
        "they did (acceptance on the ones decided since; SQLs and wins on the ones old enough now to have got there)."
    )
    cutoff = st.date_input(
        "Replay the forecast from a cut-off of your own",
        value=None,
        min_value=first,
        max_value=last,
        key="whatif_backtest_cutoff",
        format="YYYY-MM-DD",
    )
    frame = record_of(None)
    if cutoff is not None:
        frame = pl.concat([frame, record_of(cutoff)])
    if frame.is_empty():
        st.caption("No scoring-model change in this data yet: pick a cut-off to replay the estimates from it.")
        return
    shown = _track_rows(frame)
    st.dataframe(shown, hide_index=True, width="stretch")
    components.table_downloads(shown, file_stem="whatif_track_record")
