"""Shared fixtures: the session's one seeded demo database, a throwaway PostgreSQL server, Chromium, and the CI rule
that nothing skips."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from dashboard.report.report import CHROMIUM_FLAGS
from seed import populate
from seed.generator import Plan

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip with reason when condition fails; in CI a missing tool fails the run instead."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI must run every test)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL cluster in a temporary folder on 127.0.0.1 and a free port; yields (host, port)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    require(bool(found), "PostgreSQL server binaries not found: apt-get install postgresql")
    bin_dir = Path(found[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="handoff-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"]),
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c full_page_writes=off"
    subprocess.run(
        _as_postgres(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield "127.0.0.1", port
    finally:
        subprocess.run(
            _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]), capture_output=True
        )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh, empty database on the throwaway server, dropped afterwards."""
    host, port = postgres_server
    name = f"handoff_{uuid.uuid4().hex[:10]}"
    yield _create(host, port, name)
    _drop(host, port, name)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    require(Path(path).exists(), "Chromium not found: apt-get install chromium")
    return path


@pytest.fixture(scope="session")
def artifacts() -> Path:
    folder = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


# The flags this machine's Chromium needs, the same the report's PDF printing uses.
CHROMIUM_ARGS = list(CHROMIUM_FLAGS)


@pytest.fixture
def chromium_context(chromium_path, tmp_path):
    """A Playwright context in Debian's Chromium, its profile (and config, cache) in a temporary folder."""
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("XDG_CONFIG_HOME", str(tmp_path / "config"))
    os.environ.setdefault("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=chromium_path,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1100},
        )
        yield context
        context.close()


# ----- the demo database: seeded once per session ---------------------------------------------------------------------

# The session's one seeded demo database. Its patterns (seed/__init__.py) need this many leads to stand out; its
# dates are fixed, so every figure a test reads is the same on every day (the pages open on the data's own weeks).
DEMO_PLAN = Plan(leads=15_000, weeks=26, seed=21, now=datetime(2026, 6, 17, 15, 0))
DEMO_TEMPLATE = "handoff_demo"


def _fingerprint(url: str) -> dict[str, tuple[int, int]]:
    """Every table's row count and row hash: what a test that only reads must leave as it found it."""
    from dashboard import models
    from dashboard.store import db

    tables = [m for m in vars(models).values() if isinstance(m, type) and hasattr(m, "__table__")]
    frames = {t.__tablename__: db.read_table(t, url=url) for t in tables}
    return {name: (f.height, int(f.hash_rows(seed=1).sum()) if f.height else 0) for name, f in frames.items()}


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory) -> Path:
    """The demo database (SQLite), seeded once for the session. Tests that only read share it (demo_url) and must
    leave it as they found it; a test that writes works on a copy of its own (demo_copy)."""
    path = tmp_path_factory.mktemp("demo") / "handoff.db"
    populate(f"sqlite:///{path}", DEMO_PLAN)
    before = _fingerprint(f"sqlite:///{path}")
    yield path
    assert _fingerprint(f"sqlite:///{path}") == before, "a test wrote into the shared demo database: use demo_copy"


@pytest.fixture(scope="session")
def demo_url(demo_file) -> str:
    """The shared demo database, for tests that only read."""
    return f"sqlite:///{demo_file}"


@pytest.fixture(scope="session")
def demo_tables(demo_url):
    """The demo database's analytics tables, read once (data.read_tables)."""
    from dashboard.data.data import read_tables

    return read_tables(demo_url)


def copy_of_demo(demo_file: Path, folder: Path) -> str:
    """A copy of the demo database in folder, for a test (or a module of tests) that writes: far cheaper than
    seeding one."""
    target = folder / "handoff.db"
    with sqlite3.connect(demo_file) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    return f"sqlite:///{target}"


@pytest.fixture
def demo_copy(demo_file, tmp_path) -> str:
    """A demo database of this test's own, to write in."""
    return copy_of_demo(demo_file, tmp_path)


def _admin(host: str, port: int) -> str:
    return f"postgresql://postgres@{host}:{port}/postgres"


def _create(host: str, port: int, name: str, *, template: str | None = None) -> str:
    import psycopg

    with psycopg.connect(_admin(host, port), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return f"postgresql+psycopg://postgres@{host}:{port}/{name}"


def _drop(host: str, port: int, name: str) -> None:
    import psycopg

    with psycopg.connect(_admin(host, port), autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture(scope="session")
def demo_postgres_template(postgres_server) -> str:
    """The demo data seeded once on PostgreSQL, as a template that no test connects to: each clone of it is a
    file copy inside the server."""
    from dashboard.store import db

    host, port = postgres_server
    url = _create(host, port, DEMO_TEMPLATE)
    populate(url, DEMO_PLAN)
    db.engine(url).dispose()  # a template may have no open connection
    return DEMO_TEMPLATE


@pytest.fixture(scope="session")
def demo_postgres(postgres_server, demo_postgres_template) -> str:
    """The demo database on PostgreSQL, for tests that only read."""
    host, port = postgres_server
    url = _create(host, port, "handoff_demo_shared", template=demo_postgres_template)
    before = _fingerprint(url)
    yield url
    assert _fingerprint(url) == before, "a test wrote into the shared demo database: use demo_postgres_copy"


@pytest.fixture
def demo_postgres_copy(postgres_server, demo_postgres_template) -> str:
    """A demo database on PostgreSQL of this test's own, to write in; dropped afterwards."""
    host, port = postgres_server
    name = f"handoff_{uuid.uuid4().hex[:10]}"
    yield _create(host, port, name, template=demo_postgres_template)
    _drop(host, port, name)


def in_transaction(url: str, call, **kwargs):
    """One repository call (store.*) in a transaction of its own, the way the data layer makes it."""
    from dashboard.store import db

    with db.transaction(url) as session:
        return call(session=session, **kwargs)
