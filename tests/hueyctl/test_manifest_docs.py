"""docs/manifest.md and the validator agree: the same keys, each scalar's type worded
as the validator words it, the consumer defaults; and `hueyctl init` names every key."""

from __future__ import annotations

import re
from pathlib import Path

from huey.consumer.options import ConsumerOptions
from hueyctl import manifest
from hueyctl.model import CONSUMER_KEYS, Instance
from hueyctl.starter import STARTER
from hueyctl.values import KINDS

PAGE = Path(__file__).resolve().parents[2] / "docs" / "manifest.md"
ROW = re.compile(r"\| `(\w+)` \| (.*?) \| (.*?) \| (.*?) \| (.*?) \|\s*$")

# Each mapping the validator checks -> its keys, and the kinds of its scalar keys.
SECTIONS = {
    "": manifest._TOP_KEYS,
    "http": manifest._HTTP_KEYS,
    "dashboard": manifest._DASHBOARD_KEYS,
    "instances.NAME": manifest._INSTANCE_KEYS,
    "instances.NAME.hooks": manifest._HOOK_KEYS,
    "instances.NAME.resources": manifest._RESOURCE_KEYS,
    "instances.NAME.schedules.NAME": (*manifest._SCHEDULE_KEYS, *manifest._SCHEDULE_ARGUMENTS),
}
KINDS_OF = {
    "": {"version": "version", "project": "name", "state_dir": "path"},
    "http": {key: key for key in manifest._HTTP_KEYS},
    "dashboard": {"token": "token"},
    "instances.NAME": manifest._INSTANCE_SCALARS,
    "instances.NAME.resources": dict.fromkeys(manifest._RESOURCE_KEYS, "quantity"),
    "instances.NAME.schedules.NAME": {key: key for key in manifest._SCHEDULE_KEYS},
}


def documented() -> dict[str, dict[str, tuple[str, str, str]]]:
    """Section -> key -> (type, default, example), read from the page's tables."""
    sections: dict[str, dict[str, tuple[str, str, str]]] = {}
    current = None
    for line in PAGE.read_text().splitlines():
        if line.startswith("## "):
            named = re.search(r"`([^`]+)`", line)
            current = named.group(1) if named else ""
            sections[current] = {}
        elif current is not None and (row := ROW.match(line)):
            key, kind, default, example, _ = row.groups()
            sections[current][key] = (kind, default.strip("`"), example.strip("`"))
    return sections


def test_the_page_documents_exactly_the_keys_the_validator_accepts() -> None:
    page = documented()
    assert {s: sorted(keys) for s, keys in page.items()} == {
        s: sorted(keys) for s, keys in SECTIONS.items()
    }


def test_each_scalar_type_is_worded_as_the_validator_words_it() -> None:
    page = documented()
    for section, kinds in KINDS_OF.items():
        for key, kind in kinds.items():
            assert page[section][key][0] == KINDS[kind].expected, f"{section}.{key}"


def test_consumer_defaults_are_the_documented_ones() -> None:
    page = documented()["instances.NAME"]
    defaults = {key: getattr(ConsumerOptions(), key) for key in CONSUMER_KEYS}
    defaults["startsecs"] = Instance("x", "m:h", "sqlite:///x.db").startsecs
    for key, value in defaults.items():
        assert page[key][1] == written(value), key


def written(value: object) -> str:
    """``value`` as YAML and the page write it."""
    if isinstance(value, bool):
        return str(value).lower()
    return value if isinstance(value, str) else f"{value:g}"


def test_init_starter_names_every_instance_and_schedule_key() -> None:
    for key in (*manifest._INSTANCE_KEYS, *SECTIONS["instances.NAME.schedules.NAME"]):
        assert re.search(rf"\b{key}:", STARTER), key
