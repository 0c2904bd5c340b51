"""Guard: every ``test_*.py`` under tests/ is collected by the README's test command.

pytest silently skips some folders (its default ``norecursedirs`` holds ``build`` and
``dist``); a test file there never runs in CI. This collects the suite as ``./test.sh`` does
and names every test file it would not run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _collected() -> set[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {line.split("::", 1)[0] for line in done.stdout.splitlines() if "::" in line}


def test_every_test_file_is_collected() -> None:
    files = {str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("test_*.py")}
    assert len(files) > 40
    missing = sorted(files - _collected())
    assert not missing, f"never collected by pytest, so never run: {missing}"
