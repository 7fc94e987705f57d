"""Every command line the README names starts and explains itself, wherever its module now lives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("module", ["seed", "dashboard.ingest", "dashboard.report", "dashboard.bench"])
def test_the_command_line_answers_help(module):
    done = subprocess.run(
        [sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert f"usage: python -m {module}" in done.stdout
