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
from queries.scoring import ScoringRule
from queries.whatif import LiveRule

WEIGHT_KEYS = {c: f"whatif_w_{c.value}" for c in ScoreComponent}
THRESHOLD_KEY = "whatif_threshold"
GATE_KEYS = {
    "gate_known_company": ("whatif_gate_company", "Known company"),
    "gate_budget": ("whatif_gate_budget", "Budget confirmed"),
    "gate_authority": ("whatif_gate_authority", "Authority-level role"),
}
TIMELINE_KEY, MONTHS_KEY = "whatif_gate_timeline", "whatif_timeline_months"
# Every key of the rule; the entry script keeps them while another page is open.
STATE_KEYS = (*WEIGHT_KEYS.values(), THRESHOLD_KEY, *(k for k, _ in GATE_KEYS.values()), TIMELINE_KEY, MONTHS_KEY)


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
        st.markdown("**Gates** a lead must also pass")
        gates = st.columns(2)
        for index, (key, label) in enumerate(GATE_KEYS.values()):
            gates[index % 2].toggle(label, key=key)
        timeline = gates[1].toggle("Timeline gate", key=TIMELINE_KEY)
        gates[1].number_input("Timeline within (months)", 1, 36, step=1, key=MONTHS_KEY, disabled=not timeline)
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
        **{field: bool(state[key]) for field, (key, _) in GATE_KEYS.items()},
        gate_timeline_months=int(state[MONTHS_KEY]) if state[TIMELINE_KEY] else None,
    )


def _change(projected: float, actual: float, *, percent: bool = False) -> str:
    if percent:
        return f"{(projected - actual) * 100:+.1f} pp vs actual {actual:.1%}"
    return f"{projected - actual:+,.0f} vs actual {actual:,.0f}"


def projected_kpis(total: dict) -> None:
    """The headline: projected MQLs, acceptance, SQLs and wins against the actual, with their intervals."""
    estimated = total["added"] > 0
    mark = "≈ " if estimated else ""
    cols = st.columns(4)
    cols[0].metric(
        "Projected MQLs",
        f"{total['projected_mqls']:,}",
        delta=_change(total["projected_mqls"], total["actual_mqls"]),
        delta_color="off",
        border=True,
        help=f"{total['added']:,} added (estimated), {total['removed']:,} removed, the rest as they happened.",
    )
    rate, actual = total["projected_rate"], total["actual_rate"]
    cols[1].metric(
        "Projected acceptance",
        f"{mark}{rate:.1%}" if rate is not None else "–",
        delta=_change(rate, actual, percent=True) if rate is not None and actual is not None else None,
        delta_color="normal",
        border=True,
        help=(
            f"95% interval {total['projected_rate_low']:.1%} – {total['projected_rate_high']:.1%}"
            if rate is not None
            else "No decided or estimated MQLs."
        ),
    )
    for col, name, label in ((cols[2], "sqls", "Projected SQLs"), (cols[3], "wins", "Projected wins")):
        value, half = total[f"projected_{name}"], total[f"{name}_half_width"]
        col.metric(
            label,
            f"{mark}{value:,.0f}",
            delta=_change(value, total[f"actual_{name}"]),
            border=True,
            help=f"± {half:,.0f} (95%): the estimated part's own chance plus the model's calibration error.",
        )


def estimate_note(total: dict, base: data.WhatIfBase) -> None:
    """How much of the projection is estimated, and from what."""
    model = base.propensities.accept
    fitted = f"{model.rows:,} decided leads" if model else "no decided leads (a flat assumption)"
    st.caption(
        f"**Estimated:** {total['added']:,} of the {total['projected_mqls']:,} projected MQLs "
        f"({total['estimated_share']:.1%}) never reached sales under the rules that were live, so their acceptance, "
        f"SQLs and wins are estimated by a logistic model fitted on {fitted} "
        f"({base.spot_checked:,} of them reviewed below the threshold). Held-out calibration error: "
        f"{base.propensities.calibration_error['accept']:.1%} (acceptance); intervals include it."
    )


def earlier_models_note(base: data.WhatIfBase, start: date) -> None:
    """Say when part of the period was judged by an earlier model, so the active model's own figures differ."""
    active = base.active
    if active is None or active.active_from.date() <= start:
        return
    earlier = [
        f"v{m.version}"
        for m in base.models
        if m.version != active.version and (m.active_to or active.active_from).date() > start
    ]
    if earlier:
        st.caption(
            f"Leads created before {active.active_from:%d %b %Y} were judged by model {', '.join(earlier)} at the "
            f"time. The proposal applies to every lead of the period, so even v{active.version}'s own settings "
            "project different figures for them."
        )


FIGURE_COLUMNS = {
    **columns("campaign", "channel_label"),
    "actual_mqls": st.column_config.NumberColumn("Actual MQLs", format="localized"),
    **columns("projected_mqls"),
    "mql_change": st.column_config.NumberColumn("Change", format="%+d"),
    "actual_rate": st.column_config.NumberColumn("Actual acceptance", format="percent"),
    "projected_rate": st.column_config.NumberColumn("Projected acceptance", format="percent"),
    "projected_rate_low": st.column_config.NumberColumn("95% low", format="percent"),
    "projected_rate_high": st.column_config.NumberColumn("95% high", format="percent"),
    "actual_wins": st.column_config.NumberColumn("Actual wins", format="localized"),
    "projected_wins": st.column_config.NumberColumn("Projected wins", format="%.1f"),
    "lost_accepted": st.column_config.NumberColumn("Accepted lost", format="localized"),
    **columns("lost_wins"),
    "added": st.column_config.NumberColumn("Added (estimated)", format="localized"),
    **columns("estimated_share"),
}


def figures_table(frame: pl.DataFrame, *, label: str, file_stem: str) -> None:
    """Actual against projected per group, sorted by the size of the change."""
    shown = frame.select(label, *[c for c in FIGURE_COLUMNS if c in frame.columns and c != label])
    st.dataframe(shown, hide_index=True, width="stretch", column_config=FIGURE_COLUMNS)
    components.table_downloads(shown, file_stem=file_stem)


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
    components.table_downloads(every, file_stem=file_stem, what="all")


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
        author = author_col.text_input("Author", key="whatif_scenario_author", max_chars=80)
        note = st.text_input("Note", key="whatif_scenario_note", max_chars=500)
        if st.form_submit_button("Save scenario", icon=":material/save:"):
            try:
                scoring_data.save_scenario(
                    url=url, name=name, author=author, note=note, rule=rule, now=datetime.now(), actor=signin.acting()
                )
            except (Refused, DatabaseUnavailable) as exc:
                st.error(str(exc))
            else:
                st.toast(f"Saved “{name.strip()}”.", icon=":material/check:")
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
    components.table_downloads(comparison, file_stem="whatif_scenarios")
    with st.form("whatif_apply", border=True):
        st.markdown("**Apply a scenario as the new active scoring model**")
        choice = st.selectbox("Scenario", options=names, key="whatif_apply_choice")
        applier = st.text_input("Your name", key="whatif_apply_author", max_chars=80)
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
                st.error(str(exc))
            else:
                st.session_state["whatif_applied"] = f"“{choice}” is now scoring model v{version.version}."
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
    st.dataframe(shown, hide_index=True, width="stretch")
    components.table_downloads(shown, file_stem="scoring_models")


QUALITY_COLUMNS = {
    "rule": st.column_config.TextColumn("MQL gate"),
    "passed": st.column_config.NumberColumn("Decided leads it passes", format="localized"),
    "accepted": st.column_config.NumberColumn("Accepted by sales", format="localized"),
    "accepted_passed": st.column_config.NumberColumn("Both", format="localized"),
    "precision": st.column_config.NumberColumn("Precision", format="percent", help="Accepted among those it passes"),
    "recall": st.column_config.NumberColumn("Recall", format="percent", help="Share of the accepted it passes"),
}
