"""`hueyctl check`: a deployment's health in the Nagios plugin convention, for monitoring
systems, a container HEALTHCHECK or a systemd watchdog step.

Critical: a consumer not RUNNING under supervisord, a storage that does not answer, or
no consumer of an instance heartbeating. Warning: a consumer whose heartbeat stopped
(its tasks will be requeued), or a threshold (--max-pending, --max-age) exceeded.
Unknown: the deployment could not be read at all (a manifest edited with a typo): not
critical, because a watchdog restarts on critical and `up` would fail on that manifest.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hueyctl.deployment import STOPPED_BY_HAND
from hueyctl.metrics import Survey


class Level(enum.IntEnum):
    """A Nagios plugin state; its value is the exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3  # the check could not look (a broken manifest, no deployment)


@dataclass(frozen=True)
class Finding:
    """One problem of one instance."""

    level: Level
    project: str
    instance: str
    text: str

    def __str__(self) -> str:
        return f"{self.level.name} {self.project}/{self.instance}: {self.text}"

    def row(self) -> dict[str, str]:
        return {
            "level": self.level.name,
            "project": self.project,
            "instance": self.instance,
            "problem": self.text,
        }


def check(
    surveys: list[Survey], max_pending: int | None = None, max_age: float | None = None
) -> list[Finding]:
    """Every problem of every instance surveyed, the critical ones first."""
    found = [f for s in surveys for f in _instance(s, max_pending, max_age)]
    return sorted(found, key=lambda f: -f.level)


def verdict(findings: list[Finding]) -> Level:
    return max((f.level for f in findings), default=Level.OK)


def summary(surveys: list[Survey], findings: list[Finding]) -> str:
    """The plugin's first line: the state and what was looked at."""
    consumers = sum(s.live_consumers() for s in surveys)
    level = verdict(findings)
    problems = f", {len(findings)} problem(s)" if findings else ""
    return (
        f"HUEY {level.name}: {len(surveys)} instance(s), "
        f"{consumers} consumer(s) heartbeating{problems}"
    )


def _instance(survey: Survey, max_pending: int | None, max_age: float | None) -> list[Finding]:
    def finding(level: Level, text: str) -> Finding:
        return Finding(level, survey.project, survey.instance, text)

    found = []
    if survey.state not in ("RUNNING", STOPPED_BY_HAND):  # stopped by hand is meant
        found.append(finding(Level.CRITICAL, f"consumer is {survey.state}, not RUNNING"))
    metrics = survey.metrics
    if metrics is None:
        return [*found, finding(Level.CRITICAL, f"storage: {survey.note}")]
    if survey.state == "RUNNING" and survey.live_consumers() == 0:
        found.append(
            finding(Level.CRITICAL, f"no consumer heartbeat in {survey.heartbeat_timeout:g}s")
        )
    for consumer in metrics.consumers:
        age = metrics.read_at - consumer.heartbeat
        if age > survey.heartbeat_timeout:
            text = f"consumer {consumer.consumer_id}: last heartbeat {age:.0f}s ago"
            found.append(finding(Level.WARNING, text))
    if max_pending is not None and metrics.queue_size > max_pending:
        text = f"{metrics.queue_size} tasks pending (more than {max_pending})"
        found.append(finding(Level.WARNING, text))
    age = metrics.oldest_pending_age
    if max_age is not None and age is not None and age > max_age:
        text = f"oldest pending task waited {age:.0f}s (more than {max_age:g}s)"
        found.append(finding(Level.WARNING, text))
    return found
