"""docs/spec-coverage.md names real tests: every `file::test` it cites exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests" / "huey"
CITATION = re.compile(r"`(?:([\w/]+\.py)|…)::(\w+)`")


def functions_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def test_every_cited_test_exists():
    text = (ROOT / "docs" / "spec-coverage.md").read_text()
    cited, current = [], None
    for line in text.splitlines():
        for match in CITATION.finditer(line):
            current = match.group(1) or current
            cited.append((current, match.group(2)))
    assert len(cited) > 60
    missing = [f"{f}::{t}" for f, t in cited if t not in functions_in(TESTS / f)]
    assert missing == []


def test_every_storage_method_of_the_spec_is_in_the_table():
    spec_methods = (
        "enqueue dequeue unqueue queue_size enqueued_items flush_queue add_to_schedule "
        "read_schedule schedule_size scheduled_items flush_schedule put_data peek_data "
        "pop_data has_data_for_key result_store_size result_items flush_results put_error "
        "get_errors flush_errors emit __iter__"
    ).split()
    text = (ROOT / "docs" / "spec-coverage.md").read_text()
    assert [m for m in spec_methods if f"`{m}" not in text] == []
