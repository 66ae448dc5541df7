"""The plan: what `up` changes, computed from plain data."""

from __future__ import annotations

from hueyctl import render
from hueyctl.manifest import load
from hueyctl.plan import ADD, KEEP, REMOVE, RESTART, START, Change, plan

from .hueyctl_helpers import write_manifest

EMAILS = {"app": "shop:emails", "workers": 2, "env.REGION": "eu"}
REPORTS = {"app": "shop:reports", "workers": 1}


def test_first_up_adds_everything() -> None:
    changes = plan({"emails": EMAILS, "reports": REPORTS}, {}, {})
    assert changes == [Change("emails", ADD), Change("reports", ADD)]


def test_an_instance_stopped_by_hand_is_not_started_but_still_changed() -> None:
    running = {"emails": "STOPPED", "reports": "STOPPED"}
    desired = {"emails": EMAILS, "reports": {**REPORTS, "workers": 3}}
    applied = {"emails": EMAILS, "reports": REPORTS}
    emails, reports = plan(desired, applied, running, held={"emails", "reports"})
    assert (emails.action, emails.held) == (KEEP, True)
    assert emails.describe().startswith("stopped by hand; `hueyctl start emails`")
    assert (reports.action, reports.fields, reports.held) == (RESTART, ("workers",), True)
    assert reports.describe().startswith("restart (workers), stays stopped by hand")
    assert [c.action for c in plan(desired, desired, running)] == [START, START]


def test_nothing_changed_keeps_everything() -> None:
    running = {"emails": "RUNNING", "reports": "RUNNING"}
    desired = {"emails": EMAILS, "reports": REPORTS}
    changes = plan(desired, desired, running)
    assert [c.action for c in changes] == [KEEP, KEEP]


def test_changed_fields_restart_only_that_instance_and_are_named() -> None:
    running = {"emails": "RUNNING", "reports": "RUNNING"}
    applied = {"emails": EMAILS, "reports": REPORTS}
    desired = {"emails": {**EMAILS, "workers": 4, "env.TOKEN": "x"}, "reports": REPORTS}
    del desired["emails"]["env.REGION"]
    changes = plan(desired, applied, running)
    assert changes[0] == Change("emails", RESTART, ("env.REGION", "env.TOKEN", "workers"))
    assert changes[0].describe() == "restart (env.REGION, env.TOKEN, workers)"
    assert changes[1] == Change("reports", KEEP)


def test_instance_gone_from_the_manifest_is_removed() -> None:
    running = {"emails": "RUNNING", "reports": "RUNNING"}
    changes = plan({"emails": EMAILS}, {"emails": EMAILS, "reports": REPORTS}, running)
    assert changes == [Change("emails", KEEP), Change("reports", REMOVE)]


def test_a_stopped_or_fatal_consumer_is_started_again() -> None:
    for state in ("FATAL", "STOPPED", "EXITED", "BACKOFF"):
        changes = plan({"emails": EMAILS}, {"emails": EMAILS}, {"emails": state})
        assert changes == [Change("emails", START)]


def test_running_without_a_record_is_restarted() -> None:
    changes = plan({"emails": EMAILS}, {}, {"emails": "RUNNING"})
    assert changes == [Change("emails", RESTART, ("(unrecorded)",))]


def test_supervisord_settings_are_told_apart_from_programs(tmp_path) -> None:
    base = """
    version: 1
    project: shop
    {http}
    instances:
      emails: {{app: "shop.emails:huey", storage: "sqlite:///e.db", workers: {workers}}}
    """

    def rendered(http: str, workers: int) -> str:
        path = write_manifest(tmp_path / "m.yaml", base.format(http=http, workers=workers))
        return render.render(load(path))

    plain = rendered("", 1)
    http = 'http: {port: 9001, username: ops, password: "{SHA}' + "0" * 40 + '"}'
    assert render.server_part(plain) == render.server_part(rendered("", 2))
    assert render.server_part(plain) != render.server_part(rendered(http, 1))
