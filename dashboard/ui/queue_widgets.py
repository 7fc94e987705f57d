"""The acceptance queue's widgets: who is working, the pending MQLs, why one qualified, and the decisions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import polars as pl
import streamlit as st

from dashboard.auth import ROLE_LABELS, Action, Role
from dashboard.data import queue_data
from dashboard.domain import REJECTION_REASONS, STAGE_NAMES, Tier
from dashboard.refusals import Refused
from dashboard.store.db import DatabaseUnavailable
from dashboard.store.queue import UNDO_WINDOW
from dashboard.ui import signin
from dashboard.ui.columns import columns
from dashboard.ui.text import plain

REASON_LABELS = {r.key: f"{r.label} ({r.kind.value})" for r in REJECTION_REASONS}
LAST_KEY = "queue_last_decision"
SELECTION_KEY = "queue_selection"


def working_as(reps: pl.DataFrame) -> dict:
    """The rep whose queue is shown: a rep's own; a sales manager picks within the team; an admin, anyone."""
    actor = signin.acting()
    juniors = reps.filter(pl.col("tier") == Tier.JUNIOR.value).sort("pending", descending=True)
    if actor.role is Role.REP:
        juniors = reps.filter(pl.col("id") == actor.rep_id)
    elif actor.role is Role.SALES_MANAGER:
        juniors = juniors.filter(pl.col("team") == actor.team)
    if juniors.is_empty():
        st.info("There are no active junior reps, so nobody has a queue.", icon=":material/person_off:")
        st.stop()
    names = dict(zip(juniors["id"], juniors["name"], strict=True))
    counts = dict(zip(juniors["id"], juniors["pending"], strict=True))
    rep_id = st.selectbox(
        "Working as",
        options=list(names),
        format_func=lambda i: f"{names[i]} ({counts[i]:,} waiting)",
        key="queue_rep",
    )
    return juniors.filter(pl.col("id") == rep_id).row(0, named=True)


def time_left(hours: float) -> str:
    """A countdown a person reads at a glance: "5 h 12 min left" or "breached 3 h 4 min ago"."""
    minutes = int(round(abs(hours) * 60))
    if minutes >= 48 * 60:
        span = f"{minutes // (24 * 60)} days"
    else:
        span = f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
    return f"{span} left" if hours >= 0 else f"breached {span} ago"


QUEUE_COLUMNS = {
    "status": st.column_config.TextColumn("SLA", width="small"),
    **columns("external_id", "campaign", "channel_label"),
    "mql_at": st.column_config.DatetimeColumn("MQL since", format="YYYY-MM-DD HH:mm"),
    "countdown": st.column_config.TextColumn("Time left in the SLA"),
}


def queue_table(pending: pl.DataFrame) -> list[int]:
    """The pending MQLs, most overdue first; returns the lead ids the rep selected."""
    shown = pending.with_columns(
        pl.when(pl.col("breached")).then(pl.lit("⚠ breached")).otherwise(pl.lit("on time")).alias("status"),
        pl.col("hours_left").map_elements(time_left, return_dtype=pl.String).alias("countdown"),
    ).select("status", "external_id", "campaign", "channel_label", "mql_at", "countdown")
    event = st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        column_config=QUEUE_COLUMNS,
        on_select="rerun",
        selection_mode="multi-row",
        key="queue_table",
        height=min(420, 38 + 35 * max(shown.height, 1)),
    )
    rows = tuple(event.selection.rows) if event else ()
    # A selection is a list of row positions. When the queue changed under the rep (another session decided a
    # lead), the same positions would point at other leads: keep the leads the rep actually selected.
    previous = st.session_state.get(SELECTION_KEY)
    if previous and previous[0] == rows:
        ids = previous[1]
    else:
        ids = [pending["lead_id"][i] for i in rows if i < pending.height]
    st.session_state[SELECTION_KEY] = (rows, ids)
    return ids


def lead_card(url: str, lead_id: int) -> None:
    """Why this lead qualified: its score by component, the model and threshold it passed, recent activity."""
    try:
        detail = queue_data.lead_detail(url, lead_id=lead_id)
    except (Refused, DatabaseUnavailable) as exc:
        st.warning(plain(exc))
        return
    lead = detail.lead
    role = plain(lead["role"]) if lead["role"] else "role unknown"
    company = plain(lead["company"]) if lead["company"] else "no company"
    st.markdown(f"**{plain(lead['external_id'])}** · {role} at {company}")
    passed = {
        "score": "scored",
        "spot_check": "spot check below the threshold",
        "import": "qualified in the CRM (imported)",
    }.get(detail.route or "", "—")
    if detail.model_version is not None and detail.score is not None:
        st.caption(
            f"Score {detail.score:.1f} under scoring model v{detail.model_version} "
            f"(threshold {detail.threshold:g}): {passed}."
        )
    else:
        st.caption(f"How it qualified: {passed}.")
    scores = st.columns(4)
    for column, (component, value) in zip(scores, detail.scores.items(), strict=True):
        column.metric(component.capitalize(), f"{value:.0f}", help="Sub-score 0-100")
    facts = [_counted(lead[name], *words) for name, words in ACTIVITY_WORDS.items() if lead[name] is not None]
    st.caption("Activity: " + (" · ".join(facts) or "not recorded in this data"))
    st.dataframe(
        detail.history.with_columns(
            pl.col("occurred_at").dt.strftime("%Y-%m-%d %H:%M"),
            pl.col("stage").replace({s.value: label for s, label in STAGE_NAMES.items()}),
            pl.col("actor").replace({"import": "CRM import"}),  # the events an import wrote, not a person's
        ),
        hide_index=True,
        width="stretch",
        column_config={"stage": "Stage", "occurred_at": "When (UTC)", "actor": "By"},
    )


# The activity counts of a lead (domain.ACTIVITY_COUNTS), as one and as many.
ACTIVITY_WORDS = {
    "web_visits": ("visit", "visits"),
    "content_downloads": ("download", "downloads"),
    "email_clicks": ("email click", "email clicks"),
    "ctv_completions": ("CTV/OTT completion", "CTV/OTT completions"),
    "event_attendance": ("event", "events"),
    "sales_engagement": ("reply", "replies"),
}


def _counted(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def act(label: str, write: Callable[[], object], *, undoable: bool = True) -> None:
    """Run one write; show a sentence when it is refused or the database is down (the write clears the figures it
    changed). label is markdown: names in it are plain() already."""
    try:
        result = write()
    except Refused as exc:  # it names leads and reps: plain text
        st.session_state["queue_message"] = ("warning", plain(exc))
    except DatabaseUnavailable as exc:
        st.session_state["queue_message"] = ("error", f"{plain(exc)} Nothing was saved.")
    else:
        st.session_state["queue_message"] = ("success", label)
        if undoable:
            decisions = getattr(result, "decisions", None) or (result,)
            st.session_state[LAST_KEY] = [d.decision_id for d in decisions if hasattr(d, "decision_id")]
    st.session_state.pop("queue_table", None)  # the decided leads leave the queue: start a new selection
    st.session_state.pop(SELECTION_KEY, None)


def show_message() -> None:
    message = st.session_state.pop("queue_message", None)
    if message:
        kind, text = message
        {"success": st.success, "warning": st.warning, "error": st.error}[kind](text)


def _accept_and_reject(url: str, rep: dict, selected: list[int], what: str, accept_col, reject_col) -> None:
    """Accept, or reject with a reason, the selected leads."""
    with accept_col:
        st.markdown(f"**Accept {what}**")
        comment = st.text_input("Comment (optional)", key="queue_accept_comment")
        if st.button("Accept", type="primary", key="queue_accept", icon=":material/check:"):
            now = datetime.now()
            act(
                f"Accepted {what}.",
                lambda: queue_data.decide_many(
                    url=url,
                    lead_ids=selected,
                    rep_id=rep["id"],
                    decision="accepted",
                    now=now,
                    comment=comment or None,
                    actor=signin.acting(),
                ),
            )
            st.rerun()
    with reject_col:
        st.markdown(f"**Reject {what}**")
        reason = st.selectbox(
            "Reason (required)",
            options=list(REASON_LABELS),
            format_func=REASON_LABELS.get,
            index=None,
            placeholder="Choose a reason",
            key="queue_reason",
        )
        comment = st.text_input("Comment (optional)", key="queue_reject_comment")
        if st.button("Reject", key="queue_reject", icon=":material/block:", disabled=reason is None):
            now = datetime.now()
            act(
                f"Rejected {what}: {REASON_LABELS[reason]}.",
                lambda: queue_data.decide_many(
                    url=url,
                    lead_ids=selected,
                    rep_id=rep["id"],
                    decision="rejected",
                    reason=reason,
                    now=now,
                    comment=comment or None,
                    actor=signin.acting(),
                ),
            )
            st.rerun()


def decision_panel(url: str, rep: dict, selected: list[int], juniors: pl.DataFrame) -> None:
    """Accept, reject with a reason, or reassign the selected leads (accept and reject for those who may decide)."""
    count = len(selected)
    what = "this lead" if count == 1 else f"these {count} leads"
    actor = signin.acting()
    accept_col, reject_col, reassign_col = st.columns(3)
    if actor.may(Action.DECIDE):
        _accept_and_reject(url, rep, selected, what, accept_col, reject_col)
    else:  # RevOps reassigns misrouted leads anywhere, but the reps decide them
        accept_col.caption(f"As {ROLE_LABELS[actor.role]} you may reassign a misrouted lead; its rep decides it.")
    with reassign_col:
        st.markdown("**Misrouted? Reassign**")
        others = juniors.filter(pl.col("id") != rep["id"])
        names = dict(zip(others["id"], others["name"] + " · " + others["team"], strict=True))
        owner = st.selectbox("New owner", options=list(names), format_func=names.get, key="queue_new_owner")
        if st.button("Reassign", key="queue_reassign", icon=":material/alt_route:", disabled=count != 1):
            now = datetime.now()
            act(
                f"Reassigned to {plain(names[owner])} (recorded as a routing rejection).",
                lambda: queue_data.reassign(
                    url=url,
                    lead_id=selected[0],
                    rep_id=rep["id"],
                    new_owner_rep_id=owner,
                    now=now,
                    actor=signin.acting(),
                ),
                undoable=actor.may(Action.DECIDE),  # an undo is a decision's: RevOps cannot take one back
            )
            st.rerun()
        if count != 1:
            st.caption("Reassign one lead at a time.")


def undo_panel(url: str, rep: dict) -> None:
    """Undo the last decision while the window is open."""
    last = st.session_state.get(LAST_KEY)
    if not last:
        return
    minutes = int(UNDO_WINDOW.total_seconds() // 60)
    if st.button(f"Undo the last decision (within {minutes} min)", key="queue_undo", icon=":material/undo:"):
        now = datetime.now()

        def undo_all():
            return [
                queue_data.undo(url=url, decision_id=d, rep_id=rep["id"], now=now, actor=signin.acting())
                for d in reversed(last)
            ]

        act("Undone.", undo_all, undoable=False)
        st.session_state.pop(LAST_KEY, None)
        st.rerun()


def escalation_panel(url: str, rep: dict, seniors: pl.DataFrame) -> None:
    """Hand an accepted lead to a senior rep."""
    accepted = queue_data.accepted_not_escalated(url, rep_id=rep["id"])
    if accepted.is_empty() or seniors.is_empty():
        st.caption("No accepted lead is waiting for a senior rep.")
        return
    leads = dict(zip(accepted["lead_id"], accepted["external_id"], strict=True))
    senior_names = dict(zip(seniors["id"], seniors["name"] + " · " + seniors["team"], strict=True))
    left, right, button = st.columns([2, 2, 1], vertical_alignment="bottom")
    lead_id = left.selectbox("Accepted lead", options=list(leads), format_func=leads.get, key="queue_escalate_lead")
    senior = right.selectbox("Senior rep", options=list(senior_names), format_func=senior_names.get, key="queue_senior")
    if button.button("Escalate", key="queue_escalate", icon=":material/trending_up:"):
        now = datetime.now()
        act(
            f"{plain(leads[lead_id])} escalated to {plain(senior_names[senior])}.",
            lambda: queue_data.escalate(
                url=url, lead_id=lead_id, rep_id=rep["id"], senior_rep_id=senior, now=now, actor=signin.acting()
            ),
            undoable=False,
        )
        st.rerun()
