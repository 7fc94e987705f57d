"""The demo's fixed cast: campaigns, reps and scoring models, declared as data."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.domain import Tier
from queries.scoring import ScoringRule


@dataclass(frozen=True)
class CampaignSpec:
    name: str
    channel: str
    weight: float  # relative lead volume
    spend: float


MISROUTED_CAMPAIGN = "Paid Search - Brand EMEA"
LOW_FIT_CTV_CAMPAIGN = "CTV - Streaming Launch"

CAMPAIGNS: tuple[CampaignSpec, ...] = (
    CampaignSpec(LOW_FIT_CTV_CAMPAIGN, "ctv", 3.0, 180_000),
    CampaignSpec("CTV - Sports Sponsorship", "ctv", 1.2, 95_000),
    CampaignSpec("CTV - Retargeting", "ctv", 0.8, 40_000),
    CampaignSpec("OTT - Podcast Network", "ott", 1.0, 55_000),
    CampaignSpec("OTT - Streaming Pre-roll", "ott", 1.3, 70_000),
    CampaignSpec("OTT - News Channel", "ott", 0.6, 30_000),
    CampaignSpec(MISROUTED_CAMPAIGN, "paid_search", 2.5, 120_000),
    CampaignSpec("Paid Search - Brand NA", "paid_search", 3.0, 140_000),
    CampaignSpec("Paid Search - Competitor Terms", "paid_search", 1.5, 90_000),
    CampaignSpec("Paid Search - Generic", "paid_search", 2.2, 110_000),
    CampaignSpec("Paid Social - LinkedIn ABM", "paid_social", 2.0, 130_000),
    CampaignSpec("Paid Social - Facebook Lookalike", "paid_social", 1.8, 60_000),
    CampaignSpec("Paid Social - Instagram Stories", "paid_social", 1.0, 35_000),
    CampaignSpec("Paid Social - X Promoted", "paid_social", 0.5, 20_000),
    CampaignSpec("Organic - Blog", "organic_search", 2.5, 15_000),
    CampaignSpec("Organic - Product Pages", "organic_search", 2.0, 10_000),
    CampaignSpec("Organic - Comparison Guides", "organic_search", 1.2, 8_000),
    CampaignSpec("Email - Monthly Newsletter", "email", 1.5, 5_000),
    CampaignSpec("Email - Nurture Track A", "email", 1.2, 4_000),
    CampaignSpec("Email - Product Launch", "email", 1.0, 6_000),
    CampaignSpec("Email - Reactivation", "email", 0.7, 3_000),
    CampaignSpec("Syndication - Analyst Report", "content_syndication", 1.4, 45_000),
    CampaignSpec("Syndication - Trade Media", "content_syndication", 1.1, 38_000),
    CampaignSpec("Syndication - eBook Network", "content_syndication", 1.6, 52_000),
    CampaignSpec("Webinar - Product Deep Dive", "webinar", 1.0, 12_000),
    CampaignSpec("Webinar - Customer Panel", "webinar", 0.7, 9_000),
    CampaignSpec("Webinar - Industry Trends", "webinar", 0.9, 11_000),
    CampaignSpec("Events - Annual Summit", "events", 1.2, 210_000),
    CampaignSpec("Events - Regional Roadshow", "events", 0.8, 80_000),
    CampaignSpec("Events - Trade Show Booth", "events", 1.0, 95_000),
    CampaignSpec("Events - Executive Dinner", "events", 0.3, 40_000),
    CampaignSpec("Partner - Reseller Referrals", "partner_referral", 1.0, 20_000),
    CampaignSpec("Partner - Integration Marketplace", "partner_referral", 0.8, 15_000),
    CampaignSpec("Partner - Customer Referral Program", "partner_referral", 0.6, 12_000),
    CampaignSpec("Direct - Website Contact Form", "direct", 1.8, 0),
    CampaignSpec("Direct - Demo Request", "direct", 1.2, 0),
    CampaignSpec("Direct - Pricing Page Chat", "direct", 0.9, 0),
    CampaignSpec("Direct - Phone Inbound", "direct", 0.4, 0),
    CampaignSpec("Paid Search - Retargeting", "paid_search", 0.9, 45_000),
    CampaignSpec("Paid Social - Video Ads", "paid_social", 0.7, 30_000),
)


@dataclass(frozen=True)
class RepSpec:
    name: str
    tier: Tier
    team: str
    weekly_capacity: int


TEAMS = ("North America", "EMEA", "APAC & LATAM")
# Which team works leads of each region.
REGION_TEAM = {"north_america": 0, "emea": 1, "apac": 2, "latam": 2}
SLOW_REP = "Dylan Park"

REPS: tuple[RepSpec, ...] = (
    RepSpec("Ava Thompson", Tier.JUNIOR, TEAMS[0], 60),
    RepSpec(SLOW_REP, Tier.JUNIOR, TEAMS[0], 60),
    RepSpec("Maya Robinson", Tier.JUNIOR, TEAMS[0], 55),
    RepSpec("Ethan Brooks", Tier.JUNIOR, TEAMS[0], 60),
    RepSpec("Sofia Martinez", Tier.JUNIOR, TEAMS[0], 50),
    RepSpec("Lukas Becker", Tier.JUNIOR, TEAMS[1], 55),
    RepSpec("Chloe Dubois", Tier.JUNIOR, TEAMS[1], 55),
    RepSpec("Giulia Rossi", Tier.JUNIOR, TEAMS[1], 50),
    RepSpec("Oliver Hughes", Tier.JUNIOR, TEAMS[1], 60),
    RepSpec("Priya Nair", Tier.JUNIOR, TEAMS[2], 55),
    RepSpec("Kenji Sato", Tier.JUNIOR, TEAMS[2], 50),
    RepSpec("Lucas Silva", Tier.JUNIOR, TEAMS[2], 55),
    RepSpec("Mei Chen", Tier.JUNIOR, TEAMS[2], 50),
    RepSpec("Rachel Kim", Tier.SENIOR, TEAMS[0], 25),
    RepSpec("Marcus Johnson", Tier.SENIOR, TEAMS[0], 25),
    RepSpec("Hannah Weber", Tier.SENIOR, TEAMS[1], 20),
    RepSpec("Antoine Laurent", Tier.SENIOR, TEAMS[1], 20),
    RepSpec("Arjun Mehta", Tier.SENIOR, TEAMS[2], 20),
    RepSpec("Isabela Costa", Tier.SENIOR, TEAMS[2], 20),
    RepSpec("Daniel Foster", Tier.SENIOR, TEAMS[0], 20),
)

# The model live at the start, and the looser one that raised MQL volume and lowered acceptance.
MODEL_V1 = ScoringRule(w_demographic=0.25, w_firmographic=0.30, w_behavioural=0.30, w_engagement=0.15, mql_threshold=48)
MODEL_V2 = ScoringRule(w_demographic=0.15, w_firmographic=0.15, w_behavioural=0.55, w_engagement=0.15, mql_threshold=40)

REJECTION_COMMENTS: dict[str, tuple[str, ...]] = {
    "wrong_territory": ("Not my territory, EMEA lead sent to NA", "Wrong region again", "Should go to the EMEA team"),
    "duplicate": ("Already in the pipeline under another record", "Duplicate of an open lead"),
    "bad_contact": ("Email bounced", "Phone number is fake", "Mailbox does not exist"),
    "incomplete_record": ("No company name", "Name is 'asdf asdf'", "Missing everything but the email"),
    "not_target_market": ("Too small for us", "Industry we don't serve", "Outside our ICP"),
    "low_activity": ("Watched an ad once, nothing else", "One page view, no intent", "Not engaged at all"),
    "student_competitor": ("Student doing research", "Works for a competitor", "Job seeker, not a buyer"),
}
