"""docs/huey3.md names real tests: every test it cites exists in tests/huey/compat."""

from __future__ import annotations

import re

from tests.huey.test_spec_coverage import ROOT, functions_in

COMPAT = ROOT / "tests" / "huey" / "compat"


def test_every_cited_test_and_file_exists():
    text = (ROOT / "docs" / "huey3.md").read_text()
    files = set(re.findall(r"`(test_\w+\.py)`", text))
    names = set(re.findall(r"`(test_\w+?)\*?`", text))
    defined = set().union(*(functions_in(path) for path in COMPAT.glob("test_*.py")))
    assert files and names
    assert [f for f in files if not (COMPAT / f).exists()] == []
    missing = [n for n in names if not any(d.startswith(n) for d in defined)]
    assert missing == []
