"""Independent figures for the CRM export fixtures in tests/fixtures/exports, computed straight from the raw CSV
files with polars alone. Nothing here imports the dashboard or the queries: the tests compare what the app makes of
an import with these figures.

truth(name) for name in ("hubspot", "salesforce", "funnel") returns:
    leads                 unique lead ids in the leads file
    funnel                leads that reached each main-path stage (a later stage implies the earlier ones)
    weekly_mqls           {"YYYY-Www": n} leads counted in the ISO week they became MQLs
    acceptance            {"accepted": a, "rejected": r} over MQLs, or None when the data records no rejection
    won_by_channel        {channel as written in the file ("" when empty): {"leads": n, "won": w}}
    decision_times        MQLs whose sales decision has a known time
    decided               MQLs with any decision (accepted or rejected)
    unknown_event_leads   rows of the events file whose lead is not in the leads file
    by_attribute          {attribute: {value ("(not set)" when empty): {"leads", "won", "accepted", "rejected"}}} for
                          the attribute each mapping keeps (all leads of the file, whatever their date)
    crm_threshold         (threshold, agreement): the whole threshold on the CRM's score that best separates the
                          MQLs from the other leads (lowest on ties), or None when the file has no score
    pending_past_sla      MQLs still undecided that had waited more than 24 h when the export ends (its newest date),
                          or None when the data records no decision times
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

EXPORTS = Path(__file__).resolve().parent.parent / "fixtures" / "exports"
STAGES = ("inquiry", "mql", "sal", "sql", "opportunity", "customer")
INQUIRY, MQL, SAL, SQL, OPPORTUNITY, CUSTOMER = range(6)


def _read(file: str) -> pl.DataFrame:
    """Every column as text, blank cells as null."""
    frame = pl.read_csv(EXPORTS / file, infer_schema=False)
    return frame.with_columns(
        pl.when(pl.col(c).str.strip_chars() == "").then(None).otherwise(pl.col(c)).alias(c) for c in frame.columns
    )


def _rank(column: str, ranks: dict[str, int]) -> pl.Expr:
    return pl.col(column).replace_strict(ranks, default=None, return_dtype=pl.Int64)


def _filled(column: str, rank: int) -> pl.Expr:
    return pl.when(pl.col(column).is_not_null()).then(pl.lit(rank, dtype=pl.Int64))


# Each loader returns one row per lead: id, channel (as written, "" when empty), furthest (stage index),
# rejected (bool: rejected at the SAL gate and never got further), mql_at (datetime or null),
# decision_known (bool), plus the count of events without a lead and whether the data records rejections at all.


def _hubspot() -> tuple[pl.DataFrame, int, bool]:
    contacts = _read("hubspot_contacts.csv")
    lifecycle = {
        "Subscriber": INQUIRY,
        "Lead": INQUIRY,
        "Marketing Qualified Lead": MQL,
        "Sales Qualified Lead": SQL,
        "Opportunity": OPPORTUNITY,
        "Customer": CUSTOMER,
    }
    status = {
        "Unqualified": MQL,
        "Attempted to Contact": SAL,
        "Connected": SAL,
        "In Progress": SAL,
        "Open Deal": SAL,
        "Bad Timing": SAL,
    }
    became = {
        "Became a Subscriber Date": INQUIRY,
        "Became a Lead Date": INQUIRY,
        "Became a Marketing Qualified Lead Date": MQL,
        "Became a Sales Qualified Lead Date": SQL,
        "Became an Opportunity Date": OPPORTUNITY,
        "Became a Customer Date": CUSTOMER,
    }
    leads = contacts.select(
        pl.col("Record ID").alias("id"),
        pl.col("Original Source").fill_null("").alias("channel"),
        pl.max_horizontal(
            pl.lit(INQUIRY, dtype=pl.Int64),
            _rank("Lifecycle Stage", lifecycle),
            _rank("Lead Status", status),
            *(_filled(column, rank) for column, rank in became.items()),
        ).alias("furthest"),
        (pl.col("Lead Status") == "Unqualified").fill_null(False).alias("rejected_flag"),
        pl.col("Became a Marketing Qualified Lead Date").str.strptime(pl.Datetime, "%Y-%m-%d %H:%M").alias("mql_at"),
        pl.lit(False).alias("decision_known"),
        pl.col("Original Source Drill-Down 2").alias("attribute"),
        pl.col("HubSpot Score").cast(pl.Float64).alias("crm_score"),
    )
    return (
        leads.unique("id", keep="first", maintain_order=True).with_columns(pl.lit("Drill-down 2").alias("name")),
        0,
        True,
    )


SF_STATUS = {"Open - Not Contacted": MQL, "Working - Contacted": SAL, "Closed - Converted": SQL}
SF_REJECTED = "Closed - Not Converted"


def _salesforce() -> tuple[pl.DataFrame, int, bool]:
    leads = _read("salesforce_leads.csv").unique("Lead ID", keep="first", maintain_order=True)
    history = _read("salesforce_lead_history.csv").filter(pl.col("Field / Event") == "Lead Status")
    history = history.with_columns(pl.col("Edit Date").str.strptime(pl.Datetime, "%m/%d/%Y %I:%M %p").alias("at"))
    known = history.filter(pl.col("Lead ID").is_in(leads["Lead ID"].implode()))
    unknown = history.height - known.height
    per_lead = known.group_by("Lead ID").agg(
        _rank("New Value", SF_STATUS).max().alias("history_rank"),
        (pl.col("New Value") == SF_REJECTED).any().alias("history_rejected"),
        pl.col("at").filter(pl.col("New Value") == "Open - Not Contacted").min().alias("first_open"),
        pl.col("New Value").is_in(["Working - Contacted", SF_REJECTED]).any().alias("decision_known"),
    )
    frame = leads.join(per_lead, on="Lead ID", how="left").select(
        pl.col("Lead ID").alias("id"),
        pl.col("Lead Source").fill_null("").alias("channel"),
        pl.max_horizontal(
            pl.lit(MQL, dtype=pl.Int64),  # every lead of this report was handed to sales
            _rank("Lead Status", SF_STATUS),
            pl.col("history_rank"),
            _filled("Converted Date", SQL),
        ).alias("furthest"),
        ((pl.col("Lead Status") == SF_REJECTED).fill_null(False) | pl.col("history_rejected").fill_null(False)).alias(
            "rejected_flag"
        ),
        pl.coalesce(
            pl.col("first_open"), pl.col("Create Date").str.strptime(pl.Datetime, "%m/%d/%Y").cast(pl.Datetime("us"))
        ).alias("mql_at"),
        pl.col("decision_known").fill_null(False),
        pl.col("Rating").alias("attribute"),
        pl.lit("Rating").alias("name"),
    )
    end = max(
        known["at"].max(),
        leads["Create Date"].str.strptime(pl.Datetime, "%m/%d/%Y").max(),
        leads["Converted Date"].str.strptime(pl.Datetime, "%m/%d/%Y").max(),
    )
    return frame.with_columns(pl.lit(end).alias("end")), unknown, True


def _funnel() -> tuple[pl.DataFrame, int, bool]:
    leads = _read("funnel_leads.csv").unique("mql_id", keep="first", maintain_order=True)
    won = _read("funnel_won_deals.csv")
    won_ids = won["mql_id"].implode()
    unknown = won.filter(~pl.col("mql_id").is_in(leads["mql_id"].implode())).height
    frame = leads.select(
        pl.col("mql_id").alias("id"),
        pl.col("origin").fill_null("").alias("channel"),
        pl.when(pl.col("mql_id").is_in(won_ids)).then(CUSTOMER).otherwise(MQL).cast(pl.Int64).alias("furthest"),
        pl.lit(False).alias("rejected_flag"),
        pl.col("first_contact_date").str.strptime(pl.Datetime, "%d/%m/%Y").cast(pl.Datetime("us")).alias("mql_at"),
        pl.lit(False).alias("decision_known"),
    )
    segments = won.unique("mql_id", keep="first").select(pl.col("mql_id").alias("id"), pl.col("business_segment"))
    frame = frame.join(segments, on="id", how="left").rename({"business_segment": "attribute"})
    return frame.with_columns(pl.lit("Business segment").alias("name")), unknown, False


def truth(name: str) -> dict:
    loaders = {"hubspot": _hubspot, "salesforce": _salesforce, "funnel": _funnel}
    frame, unknown_events, records_rejection = loaders[name]()
    frame = frame.with_columns(
        (pl.col("rejected_flag") & (pl.col("furthest") == MQL)).alias("rejected"),
        (pl.col("furthest") >= SAL).alias("accepted"),
    )
    mqls = frame.filter(pl.col("furthest") >= MQL)
    accepted = int(mqls["accepted"].sum())
    rejected = int(mqls["rejected"].sum())

    dated = frame.filter(pl.col("mql_at").is_not_null())
    weeks = (
        dated.select(
            (
                pl.col("mql_at").dt.iso_year().cast(pl.String)
                + "-W"
                + pl.col("mql_at").dt.week().cast(pl.String).str.zfill(2)
            ).alias("week")
        )
        .group_by("week")
        .len()
        .sort("week")
    )
    by_channel = (
        frame.group_by("channel")
        .agg(pl.len().alias("leads"), (pl.col("furthest") == CUSTOMER).sum().alias("won"))
        .sort("channel")
    )
    pending = mqls.filter((pl.col("furthest") == MQL) & ~pl.col("rejected"))
    past = None
    if "end" in frame.columns:
        past = int(pending.filter(pl.col("end") - pl.col("mql_at") > pl.duration(hours=24)).height)
    per_value = (
        frame.group_by(pl.col("attribute").fill_null("(not set)"))
        .agg(
            pl.len().alias("leads"),
            (pl.col("furthest") == CUSTOMER).sum().alias("won"),
            (pl.col("accepted") & (pl.col("furthest") >= MQL)).sum().alias("accepted"),
            (pl.col("rejected") & (pl.col("furthest") >= MQL)).sum().alias("rejected"),
        )
        .iter_rows(named=True)
    )
    by_attribute = {frame["name"][0]: {row.pop("attribute"): {k: int(v) for k, v in row.items()} for row in per_value}}
    crm_threshold = None
    if "crm_score" in frame.columns:
        scored = frame.filter(pl.col("crm_score").is_not_null())
        is_mql, score = (scored["furthest"] >= MQL).to_list(), scored["crm_score"].to_list()
        top = max(100, int(max(score)) + (max(score) % 1 > 0))
        agreement = {
            t: sum((s >= t) == m for s, m in zip(score, is_mql, strict=True)) / scored.height for t in range(top + 1)
        }
        best = max(agreement.values())
        crm_threshold = (float(min(t for t, a in agreement.items() if a == best)), best)
    return {
        "leads": frame.height,
        "funnel": {stage: int((frame["furthest"] >= rank).sum()) for rank, stage in enumerate(STAGES)},
        "weekly_mqls": {row["week"]: int(row["len"]) for row in weeks.iter_rows(named=True)},
        "acceptance": {"accepted": accepted, "rejected": rejected} if records_rejection else None,
        "won_by_channel": {
            row["channel"]: {"leads": int(row["leads"]), "won": int(row["won"])}
            for row in by_channel.iter_rows(named=True)
        },
        "decision_times": int(mqls["decision_known"].sum()),
        "decided": accepted + rejected,
        "unknown_event_leads": unknown_events,
        "pending_past_sla": past,
        "by_attribute": by_attribute,
        "crm_threshold": crm_threshold,
    }
