"""The domain vocabulary, declared once: stages, reasons, channels, tiers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Stage(StrEnum):
    INQUIRY = "inquiry"
    MQL = "mql"
    SAL = "sal"
    SQL = "sql"
    OPPORTUNITY = "opportunity"
    CUSTOMER = "customer"
    REJECTED = "rejected"
    DISQUALIFIED = "disqualified"
    RECYCLED = "recycled"
    LOST = "lost"


# The demand waterfall, in order; everything else is a detour.
MAIN_PATH: tuple[Stage, ...] = (
    Stage.INQUIRY,
    Stage.MQL,
    Stage.SAL,
    Stage.SQL,
    Stage.OPPORTUNITY,
    Stage.CUSTOMER,
)

STAGE_LABELS: dict[Stage, str] = {
    Stage.INQUIRY: "Inquiries",
    Stage.MQL: "MQLs",
    Stage.SAL: "SALs",
    Stage.SQL: "SQLs",
    Stage.OPPORTUNITY: "Opportunities",
    Stage.CUSTOMER: "Won",
    Stage.REJECTED: "Rejected",
    Stage.DISQUALIFIED: "Disqualified",
    Stage.RECYCLED: "Recycled",
    Stage.LOST: "Lost",
}


# One lead at a stage, as a history names it ("became an MQL": the stage MQL).
STAGE_NAMES: dict[Stage, str] = {
    Stage.INQUIRY: "Inquiry",
    Stage.MQL: "MQL",
    Stage.SAL: "SAL",
    Stage.SQL: "SQL",
    Stage.OPPORTUNITY: "Opportunity",
    Stage.CUSTOMER: "Customer (won)",
    Stage.REJECTED: "Rejected",
    Stage.DISQUALIFIED: "Disqualified",
    Stage.RECYCLED: "Recycled",
    Stage.LOST: "Lost",
}


class ReasonKind(StrEnum):
    PROCEDURAL = "procedural"
    CLERICAL = "clerical"
    DEFINITIONAL = "definitional"


class Decision(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Reason:
    key: str
    label: str
    kind: ReasonKind | None = None


# Rejections happen at the SAL gate, before contact: feedback on marketing's criteria.
REJECTION_REASONS: tuple[Reason, ...] = (
    Reason("wrong_territory", "Routed to the wrong rep or territory", ReasonKind.PROCEDURAL),
    Reason("duplicate", "Duplicate record", ReasonKind.PROCEDURAL),
    Reason("bad_contact", "Invalid email or phone", ReasonKind.CLERICAL),
    Reason("incomplete_record", "Record incomplete (no company, fake name)", ReasonKind.CLERICAL),
    Reason("not_target_market", "Not the target market", ReasonKind.DEFINITIONAL),
    Reason("low_activity", "Activity too low", ReasonKind.DEFINITIONAL),
    Reason("student_competitor", "Student, competitor or job seeker", ReasonKind.DEFINITIONAL),
)

# Disqualifications happen at the SQL gate, after contact: feedback on the lead itself.
DISQUALIFICATION_REASONS: tuple[Reason, ...] = (
    Reason("no_budget", "No budget"),
    Reason("no_need", "No need"),
    Reason("no_authority", "No authority"),
    Reason("bad_timing", "Bad timing"),
    Reason("lost_to_competitor", "Lost to a competitor"),
    Reason("unresponsive", "Unresponsive"),
)

REASON_KIND_FIXERS: dict[ReasonKind, str] = {
    ReasonKind.PROCEDURAL: "routing rules and territory assignment",
    ReasonKind.CLERICAL: "data capture and enrichment",
    ReasonKind.DEFINITIONAL: "the scoring criteria",
}


@dataclass(frozen=True)
class Channel:
    key: str
    label: str
    view_through: bool = False


# CTV and OTT are view-through channels: kept as their own categories, never "other".
CHANNELS: tuple[Channel, ...] = (
    Channel("ctv", "Connected TV (CTV)", view_through=True),
    Channel("ott", "OTT streaming", view_through=True),
    Channel("paid_search", "Paid search"),
    Channel("paid_social", "Paid social"),
    Channel("organic_search", "Organic search"),
    Channel("email", "Email"),
    Channel("content_syndication", "Content syndication"),
    Channel("webinar", "Webinar"),
    Channel("events", "Events"),
    Channel("partner_referral", "Partner / referral"),
    Channel("direct", "Direct"),
)


class Tier(StrEnum):
    JUNIOR = "junior"
    SENIOR = "senior"


TIER_LABELS: dict[Tier, str] = {Tier.JUNIOR: "Junior (SDR/BDR)", Tier.SENIOR: "Senior (AE)"}


class ScoreComponent(StrEnum):
    DEMOGRAPHIC = "demographic"
    FIRMOGRAPHIC = "firmographic"
    BEHAVIOURAL = "behavioural"
    ENGAGEMENT = "engagement"


class CountingMode(StrEnum):
    COHORT = "cohort"
    IN_PERIOD = "in_period"


COUNTING_MODE_LABELS: dict[CountingMode, str] = {
    CountingMode.COHORT: "Cohort (leads created in the period)",
    CountingMode.IN_PERIOD: "In-period (stage changes in the period)",
}


# The behaviour and engagement counts a lead carries (visits, downloads, clicks, completions, events, replies).
ACTIVITY_COUNTS: tuple[str, ...] = (
    "web_visits",
    "content_downloads",
    "email_clicks",
    "ctv_completions",
    "event_attendance",
    "sales_engagement",
)
