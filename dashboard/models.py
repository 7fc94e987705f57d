"""SQLModel tables: the schema, nothing else."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from pydantic import NaiveDatetime
from sqlmodel import Field, SQLModel

# Every timestamp is naive UTC: one convention across SQLite, PostgreSQL and polars.


class ChannelRow(SQLModel, table=True):
    __tablename__ = "channel"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, index=True)
    label: str
    view_through: bool = False


class Campaign(SQLModel, table=True):
    __tablename__ = "campaign"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    channel_id: int = Field(foreign_key="channel.id", index=True)
    start_date: date
    end_date: date | None = None
    spend: float = 0.0


class Rep(SQLModel, table=True):
    __tablename__ = "rep"
    id: int | None = Field(default=None, primary_key=True)
    name: str
    tier: str = Field(index=True)  # domain.Tier
    team: str
    weekly_capacity: int
    active: bool = True


class RuleFields(SQLModel):
    """A scoring rule: component weights, MQL threshold and gates (queries.scoring.ScoringRule's fields)."""

    w_demographic: float
    w_firmographic: float
    w_behavioural: float
    w_engagement: float
    mql_threshold: float
    gate_known_company: bool = False
    gate_budget: bool = False
    gate_authority: bool = False
    gate_timeline_months: int | None = None  # None: the timeline gate is off


class ScoringModel(RuleFields, table=True):
    """A version of the scoring model, live from active_from until active_to (None: live now)."""

    __tablename__ = "scoring_model"
    id: int | None = Field(default=None, primary_key=True)
    version: int = Field(unique=True)
    active_from: NaiveDatetime
    active_to: NaiveDatetime | None = None
    author: str
    note: str = ""


class Scenario(RuleFields, table=True):
    """A what-if proposal saved under a name, to compare with others or apply later."""

    __tablename__ = "scenario"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    author: str
    note: str = ""
    created_at: NaiveDatetime


class Lead(SQLModel, table=True):
    __tablename__ = "lead"
    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(unique=True, index=True)
    created_at: NaiveDatetime = Field(index=True)
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", index=True)
    # The lead's own channel (its source); None: the campaign's channel (demo data, older databases).
    channel_id: int | None = Field(default=None, foreign_key="channel.id", index=True)
    owner_rep_id: int | None = Field(default=None, foreign_key="rep.id", index=True)
    senior_rep_id: int | None = Field(default=None, foreign_key="rep.id")
    # demographic
    role: str | None = None
    seniority: str | None = None
    country: str | None = None
    region: str | None = None
    # firmographic
    company: str | None = None
    industry: str | None = None
    company_size_band: str | None = None
    revenue_band: str | None = None
    # behavioural
    web_visits: int = 0
    content_downloads: int = 0
    email_clicks: int = 0
    ctv_completions: int = 0
    event_attendance: int = 0
    # engagement with sales outreach
    sales_engagement: int = 0
    # BANT facts
    has_budget: bool | None = None
    is_authority: bool | None = None
    has_need: bool | None = None
    timeline_months: int | None = None
    # where the lead is now, and how it was scored when it became an MQL
    stage: str = Field(default="inquiry", index=True)  # domain.Stage
    mql_route: str | None = None  # "score" or "spot_check" (reviewed below threshold)
    mql_score: float | None = None
    crm_score: float | None = None  # the CRM's own lead score, when an import maps one
    scoring_model_id: int | None = Field(default=None, foreign_key="scoring_model.id")
    # Imported leads: when, and whether the file had dates (without, created_at is the import time, and
    # time-based figures leave them out rather than invent a date).
    imported_at: NaiveDatetime | None = None
    dated: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})


class StageEvent(SQLModel, table=True):
    __tablename__ = "stage_event"
    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="lead.id", index=True)
    stage: str = Field(index=True)  # domain.Stage
    occurred_at: NaiveDatetime = Field(index=True)
    actor: str
    rep_id: int | None = Field(default=None, foreign_key="rep.id")
    # False when the export says the stage was reached but not when: occurred_at is then only a placeholder
    # (the lead's creation), and time-based figures leave the event out.
    timed: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})


class SalesDecision(SQLModel, table=True):
    """A decision at the SAL gate: accepted, or rejected with a reason of a kind."""

    __tablename__ = "sales_decision"
    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="lead.id", index=True)
    decision: str  # domain.Decision
    reason: str | None = None  # domain.REJECTION_REASONS key
    reason_kind: str | None = None  # domain.ReasonKind
    comment: str | None = None
    rep_id: int | None = Field(default=None, foreign_key="rep.id", index=True)
    decided_at: NaiveDatetime = Field(index=True)
    timed: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})  # False: when is unknown


class Disqualification(SQLModel, table=True):
    """A disqualification at the SQL gate, after contact; never mixed with rejections."""

    __tablename__ = "disqualification"
    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="lead.id", index=True)
    reason: str  # domain.DISQUALIFICATION_REASONS key
    comment: str | None = None
    rep_id: int | None = Field(default=None, foreign_key="rep.id")
    disqualified_at: NaiveDatetime = Field(index=True)


class LeadAttribute(SQLModel, table=True):
    """Any other column of an import kept with the lead (segment, lead type, region...): a filter and a breakdown."""

    __tablename__ = "lead_attribute"
    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="lead.id", index=True)
    name: str = Field(index=True)
    value: str


class AppUser(SQLModel, table=True):
    """A person who may sign in: their role and, for a rep, their rep record; for a sales manager, the team."""

    __tablename__ = "app_user"
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, index=True)
    name: str = ""
    role: str  # auth.Role
    rep_id: int | None = Field(default=None, foreign_key="rep.id")
    team: str | None = None
    active: bool = True
    created_at: NaiveDatetime


class AuditEntry(SQLModel, table=True):
    """One write, with who made it: decisions, reassignments, model versions, imports, action items, users."""

    __tablename__ = "audit_entry"
    id: int | None = Field(default=None, primary_key=True)
    at: NaiveDatetime = Field(index=True)
    actor: str = Field(index=True)  # the email signed in (or "local")
    actor_name: str = ""
    role: str
    action: str = Field(index=True)  # auth.Action
    target: str = ""  # what was written, as JSON


# Column order of each table as the bulk writers and readers see it.
TABLES: tuple[type[SQLModel], ...] = (
    ChannelRow,
    Campaign,
    Rep,
    ScoringModel,
    Lead,
    StageEvent,
    SalesDecision,
    Disqualification,
    Scenario,
    LeadAttribute,
)


class ActionItem(SQLModel, table=True):
    """An action agreed in the weekly review, carried from week to week until it is closed."""

    __tablename__ = "action_item"
    id: int | None = Field(default=None, primary_key=True)
    title: str
    owner: str
    due_date: date
    status: str = Field(default="open", index=True)  # "open" or "done"
    created_at: NaiveDatetime
    closed_at: NaiveDatetime | None = None
    created_week: str = Field(index=True)  # the ISO week reviewed when it was agreed, "YYYY-Www"


class MeetingNote(SQLModel, table=True):
    """The weekly review's notes for one ISO week, plain text."""

    __tablename__ = "meeting_note"
    id: int | None = Field(default=None, primary_key=True)
    week: str = Field(unique=True)  # "YYYY-Www"
    text: str = ""
    updated_at: NaiveDatetime
    author: str


class ReviewSnapshot(SQLModel, table=True):
    """The weekly review of one ISO week as the meeting saw it when it closed the week: who closed it, when, and the
    figures on the page's top (headline, the week's counts, top movers) as JSON."""

    __tablename__ = "review_snapshot"
    id: int | None = Field(default=None, primary_key=True)
    week: str = Field(unique=True)  # "YYYY-Www"
    closed_at: NaiveDatetime
    closed_by: str  # the name of who closed it: the signed-in user's, or the one typed in local mode
    sla_hours: float  # the SLA the figures were computed with
    figures: str  # review_data.Shown as JSON


TABLES += (ActionItem, MeetingNote, ReviewSnapshot)
