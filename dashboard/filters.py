"""The shared filters as data: parsing from and writing to URL parameters, with notices."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from dashboard.domain import CountingMode

DEFAULT_WEEKS = 12
ATTRIBUTE_PARAM = "attr."  # ?attr.Segment=retail,health: a lead attribute's chosen values


@dataclass(frozen=True)
class FilterOptions:
    """What the filters may hold: channel keys, campaign ids and tier keys that exist."""

    channels: tuple[str, ...]
    campaigns: tuple[int, ...]
    tiers: tuple[str, ...]
    attributes: tuple[tuple[str, tuple[str, ...]], ...] = ()  # lead attribute name -> its values


@dataclass(frozen=True)
class Filters:
    start: date
    end: date
    channels: tuple[str, ...] = ()
    campaigns: tuple[int, ...] = ()
    tiers: tuple[str, ...] = ()
    mode: CountingMode = CountingMode.COHORT
    attributes: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (attribute name, chosen values)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Filters:
        """The period of the same length just before this one, with the same dimensions."""
        return replace(self, start=self.start - timedelta(days=self.days), end=self.start - timedelta(days=1))


def data_today(today: date, last_day: date | None) -> date:
    """The day the default window ends: today, or the data's last day when its newest lead is older than the window
    (an export that ended in 2018 opens on its own last weeks, not on an empty recent window)."""
    if last_day is None or last_day >= default_filters(today).start:
        return today
    return last_day


def default_filters(today: date) -> Filters:
    """The last DEFAULT_WEEKS weeks, ending today (the current week included)."""
    monday = today - timedelta(days=today.weekday())
    return Filters(start=monday - timedelta(weeks=DEFAULT_WEEKS - 1), end=today)


@dataclass
class Parsed:
    filters: Filters
    notices: list[str] = field(default_factory=list)


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _list(name: str, raw: str, allowed: tuple, convert, notices: list[str]) -> tuple:
    picked = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            value = convert(part)
        except ValueError:
            value = None
        if value in allowed:
            if value not in picked:
                picked.append(value)
        else:
            notices.append(f"The {name} “{part}” in the link is unknown and was ignored.")
    return tuple(picked)


def parse_params(params: Mapping[str, str], options: FilterOptions, today: date) -> Parsed:
    """Filters from URL parameters; anything invalid falls back to the default, with a notice."""
    base = default_filters(today)
    notices: list[str] = []
    start, end = base.start, base.end
    for name in ("start", "end"):
        if name in params:
            parsed = _date(params[name])
            if parsed is None:
                notices.append(
                    f"The {name} date “{params[name]}” in the link is not a date (YYYY-MM-DD) and was ignored."
                )
            elif name == "start":
                start = parsed
            else:
                end = parsed
    if start > end:
        notices.append(
            "The start date in the link is after the end date; the default period is shown and the dates ignored."
        )
        start, end = base.start, base.end
    mode = base.mode
    if "mode" in params:
        try:
            mode = CountingMode(params["mode"])
        except ValueError:
            notices.append(f"The counting mode “{params['mode']}” in the link is unknown and was ignored.")
    filters = Filters(
        start=start,
        end=end,
        channels=_list("channel", params.get("channel", ""), options.channels, str, notices),
        campaigns=_list("campaign", params.get("campaign", ""), options.campaigns, int, notices),
        tiers=_list("rep tier", params.get("tier", ""), options.tiers, str, notices),
        mode=mode,
        attributes=tuple(
            (name, chosen)
            for name, values in options.attributes
            if (chosen := _list(name, params.get(ATTRIBUTE_PARAM + name, ""), values, str, notices))
        ),
    )
    known = {ATTRIBUTE_PARAM + name for name, _ in options.attributes}
    notices += [
        f"The filter “{p.removeprefix(ATTRIBUTE_PARAM)}” in the link is not in this data and was ignored."
        for p in params
        if p.startswith(ATTRIBUTE_PARAM) and p not in known
    ]
    return Parsed(filters, notices)


def to_params(filters: Filters, today: date) -> dict[str, str]:
    """URL parameters that reproduce filters; defaults are left out to keep links short."""
    base = default_filters(today)
    params: dict[str, str] = {}
    if filters.start != base.start:
        params["start"] = filters.start.isoformat()
    if filters.end != base.end:
        params["end"] = filters.end.isoformat()
    for name, values in (("channel", filters.channels), ("campaign", filters.campaigns), ("tier", filters.tiers)):
        if values:
            params[name] = ",".join(str(v) for v in values)
    if filters.mode != base.mode:
        params["mode"] = filters.mode.value
    for name, values in filters.attributes:
        params[ATTRIBUTE_PARAM + name] = ",".join(values)
    return params
