"""One Settings object, read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SQLITE_PATH = Path(__file__).resolve().parent.parent / "data" / "handoff.db"


@dataclass(frozen=True)
class Settings:
    database_url: str
    sla_hours: float = 24.0
    cohort_maturity_days: int = 56
    demo_leads: int = 25_000
    demo_weeks: int = 26
    seed_demo_on_first_start: bool = True
    import_batch_rows: int = 50_000  # rows of a CSV import read, checked and written at a time

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings() -> Settings:
    """Settings from the environment; the embedded SQLite file when DATABASE_URL is unset."""
    url = os.environ.get("DATABASE_URL", "").strip()
    embedded = not url
    if embedded:
        url = f"sqlite:///{DEFAULT_SQLITE_PATH}"
    seed_default = "1" if embedded else "0"
    return Settings(
        database_url=url,
        sla_hours=float(os.environ.get("HANDOFF_SLA_HOURS", "24")),
        cohort_maturity_days=int(os.environ.get("HANDOFF_COHORT_MATURITY_DAYS", "56")),
        demo_leads=int(os.environ.get("HANDOFF_DEMO_LEADS", "25000")),
        demo_weeks=int(os.environ.get("HANDOFF_DEMO_WEEKS", "26")),
        seed_demo_on_first_start=os.environ.get("HANDOFF_SEED_DEMO", seed_default) == "1",
        import_batch_rows=int(os.environ.get("HANDOFF_IMPORT_BATCH_ROWS", "50000")),
    )
