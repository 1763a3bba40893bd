"""Refresh the README's screenshots (docs/screenshots/*.png) from a fresh sandbox.

Runs the screenshot journey in tests/browser with SANDBOX_SCREENSHOTS pointing at docs/screenshots;
it needs Chromium (``make browsers``). Usage: ``make screenshots`` or
``.venv/bin/python scripts/screenshots.py [folder]``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    """Take the screenshots; exit non-zero if the journey fails or cannot run."""
    folder = Path(argv[0]) if argv else ROOT / "docs" / "screenshots"
    os.environ["SANDBOX_SCREENSHOTS"] = str(folder.resolve())
    os.environ.setdefault("CI", "true")  # a missing browser is an error here, not a skip
    os.chdir(ROOT)
    code = pytest.main(["-q", "-p", "no:cacheprovider", "tests/browser/test_screenshots.py"])
    if code == 0:
        print(f"screenshots written to {folder}")
    return int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
