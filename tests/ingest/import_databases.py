"""For the import's robustness tests: a database with an earlier import in it, fresh copies of it, every table's
checksum, and waiting until no other session is left on a PostgreSQL database (a killed client's included)."""

from __future__ import annotations

import hashlib
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel


def fingerprint(url: str) -> dict[str, tuple[int, str]]:
    """Every table's row count and a hash of all its rows, in key order."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            result = {}
            for table in SQLModel.metadata.sorted_tables:
                rows = conn.execute(sa.select(table).order_by(*table.primary_key.columns)).all()
                result[table.name] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
            return result
    finally:
        engine.dispose()


def execute(url: str, statements: list[str]) -> None:
    """Run statements in one transaction."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()


@dataclass
class Database:
    """A database with an earlier import in it (url), and fresh copies of it for the tests that write."""

    kind: str
    url: str
    clone: Callable[[], str]
    admin: str | None = None  # PostgreSQL: the maintenance database's URL

    def settle(self, url: str, timeout: float = 30) -> None:
        """Wait until no other session is connected to url: a killed client's server process has ended."""
        if self.admin is None:
            return
        import psycopg

        name = make_url(url).database
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.admin, autocommit=True) as conn:
            while time.monotonic() < deadline:
                query = "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
                if conn.execute(query, (name,)).fetchone()[0] == 0:
                    return
                time.sleep(0.05)
        raise TimeoutError(f"sessions still connected to {name} after {timeout} s")


@contextmanager
def databases(kind: str, folder: Path, fill: Callable[[str], None], server=None) -> Iterator[Database]:
    """A database of kind made by fill(url) (SQLite file in folder, or a database on the PostgreSQL server
    (host, port)), and its copies; all of them dropped afterwards."""
    if kind == "sqlite":
        base = folder / "base.db"
        fill(f"sqlite:///{base}")

        def copy() -> str:
            target = folder / f"copy-{uuid.uuid4().hex[:8]}.db"
            shutil.copy(base, target)
            return f"sqlite:///{target}"

        yield Database("sqlite", f"sqlite:///{base}", copy)
        return
    import psycopg

    host, port = server
    admin = f"postgresql://postgres@{host}:{port}/postgres"
    made = [f"handoff_base_{uuid.uuid4().hex[:8]}"]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{made[0]}"')
    base_url = f"postgresql+psycopg://postgres@{host}:{port}/{made[0]}"
    fill(base_url)

    def copy() -> str:
        name = f"handoff_copy_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            # A template must have no session; the tests' own are closed, a killed one may linger.
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (made[0],))
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{made[0]}"')
        made.append(name)
        return f"postgresql+psycopg://postgres@{host}:{port}/{name}"

    try:
        yield Database("postgres", base_url, copy, admin)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in made:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
