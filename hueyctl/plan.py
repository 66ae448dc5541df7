"""What `up` must do: the desired instances against what supervisord runs now.

Pure: it takes plain data (settings per instance, supervisord's process states) and
returns the changes, so it is tested without a supervisord.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

ADD, RESTART, REMOVE, START, KEEP = "add", "restart", "remove", "start", "keep"
# supervisord states in which a kept consumer must be started again.
STOPPED_STATES = ("STOPPED", "EXITED", "FATAL", "BACKOFF")


@dataclass(frozen=True)
class Change:
    """One instance's fate: ``action`` and, for a restart, the fields that changed;
    ``held``: stopped by hand, so it is not started (its settings still apply)."""

    instance: str
    action: str
    fields: tuple[str, ...] = field(default=())
    held: bool = False

    def describe(self) -> str:
        action = self.action
        if action == RESTART:
            action = "restart (" + ", ".join(self.fields) + ")"
        if not self.held:
            return action
        hint = f"`hueyctl start {self.instance}` or `up --start-stopped` starts it"
        if action == KEEP:
            return f"stopped by hand; {hint}"
        return f"{action}, stays stopped by hand; {hint}"


def changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    """The setting names whose value differs, added or went away, sorted."""
    return tuple(sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k)))


def plan(
    desired: Mapping[str, Mapping[str, Any]],
    applied: Mapping[str, Mapping[str, Any]],
    running: Mapping[str, str],
    held: Collection[str] = (),
) -> list[Change]:
    """Changes that take ``running`` (instance -> supervisord state) to ``desired``.

    ``applied`` holds each instance's settings as of the last apply; an instance that
    supervisord runs but that has no record is restarted, since its settings are unknown.
    An instance ``held`` (stopped by hand) is kept stopped: never started, still changed.
    """
    changes = []
    for name, settings in desired.items():
        kept = name in held
        if name not in running:
            changes.append(Change(name, ADD, held=kept))
        elif name not in applied:
            changes.append(Change(name, RESTART, ("(unrecorded)",), held=kept))
        elif diff := changed_fields(applied[name], settings):
            changes.append(Change(name, RESTART, diff, held=kept))
        elif running[name] in STOPPED_STATES and not kept:
            changes.append(Change(name, START))
        else:
            changes.append(Change(name, KEEP, held=kept))
    changes += [Change(name, REMOVE) for name in running if name not in desired]
    return changes
