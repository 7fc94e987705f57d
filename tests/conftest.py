"""Shared fixtures: a throwaway PostgreSQL server, Chromium, and the CI rule that nothing skips."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from dashboard.report.report import CHROMIUM_FLAGS

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
    import psycopg

    host, port = postgres_server
    name = f"handoff_{uuid.uuid4().hex[:10]}"
    admin = f"postgresql://postgres@{host}:{port}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@{host}:{port}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


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


def in_transaction(url: str, call, **kwargs):
    """One repository call (store.*) in a transaction of its own, the way the data layer makes it."""
    from dashboard.store import db

    with db.transaction(url) as session:
        return call(session=session, **kwargs)
