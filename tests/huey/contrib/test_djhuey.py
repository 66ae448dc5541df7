"""huey.contrib.djhuey in a real Django project: HUEY, the decorators, db tasks, run_huey."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from huey import Huey, TaskLockedException
from huey.consumer import Consumer
from huey.storage import SqliteStorage

from .djhelpers import copy_project, manage, project_env


@pytest.fixture
def djhuey(django_project: Path):
    """The djhuey module of the in-process project, its queue emptied afterwards."""
    from huey.contrib import djhuey

    yield djhuey
    djhuey.HUEY.flush()


def test_huey_setting_builds_the_module_huey(djhuey, django_project: Path) -> None:
    from huey.contrib.djhuey import HUEY

    assert isinstance(HUEY, Huey) and HUEY.name == "djproject" and not HUEY.always_eager
    assert isinstance(HUEY.storage, SqliteStorage)
    assert HUEY.storage.filename == str(django_project / "huey.db")
    assert djhuey.task == HUEY.task and djhuey.lock_task == HUEY.lock_task


def test_tasks_and_db_tasks_run_on_a_consumer(djhuey) -> None:
    from notes.models import Note
    from notes.tasks import add, write_note

    consumer = Consumer(djhuey.HUEY, workers=2, heartbeat_timeout=3)
    consumer.start()
    try:
        before = Note.objects.count()
        assert add(1, 2).get(blocking=True, timeout=10) == 3
        assert write_note("from a worker").get(blocking=True, timeout=10) == before + 1
    finally:
        consumer.stop()
    assert Note.objects.filter(text="from a worker").exists()


def test_db_task_closes_the_connection_it_leaves(djhuey) -> None:
    from django.db import connection
    from notes.tasks import add, write_note

    connection.ensure_connection()
    djhuey.HUEY.execute(add.s(2, 3))
    assert connection.connection is not None  # a plain task leaves it alone
    assert djhuey.HUEY.execute(write_note.s("executed")) >= 1
    assert connection.connection is None  # CONN_MAX_AGE=0: closed after the db task


def test_on_commit_task_waits_for_the_callers_commit(djhuey) -> None:
    from django.db import transaction

    @djhuey.on_commit_task()
    def after_commit(n):
        return n

    with transaction.atomic():
        assert after_commit(1) is None
        assert len(djhuey.HUEY) == 0  # nothing queued while the transaction is open
    assert len(djhuey.HUEY) == 1
    try:
        with transaction.atomic():
            after_commit(2)
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    assert len(djhuey.HUEY) == 1  # a rolled-back call is never queued
    after_commit(3)  # no transaction: queued at once
    (first, third) = djhuey.HUEY.pending()
    assert (first.data[0], third.data[0]) == ((1,), (3,))
    assert first.name == after_commit.task.name


def test_signals_connect_through_djhuey(djhuey) -> None:
    from notes.tasks import add

    from huey.signals import SIGNAL_COMPLETE

    seen = []

    @djhuey.signal(SIGNAL_COMPLETE)
    def completed(signal, task, *args, **kwargs):
        seen.append((signal, task.name))

    try:
        djhuey.HUEY.execute(add.s(1, 1))
    finally:
        djhuey.disconnect_signal(completed)
    assert seen == [(SIGNAL_COMPLETE, add.name)]


def test_periodic_tasks_are_registered(djhuey) -> None:
    from notes.tasks import count_notes, nightly

    names = {task.name for task in djhuey.HUEY.periodic_tasks()}
    assert {count_notes.name, nightly.name} <= names
    assert count_notes.call_local() >= 0 and nightly.call_local() == "nightly"


def test_lock_task_refuses_a_second_holder(djhuey) -> None:
    from notes.tasks import report

    with djhuey.lock_task("single-report"):
        with pytest.raises(TaskLockedException):
            report.call_local()
    assert report.call_local() == "report"


def test_run_huey_flags_override_the_consumer_setting(djhuey) -> None:
    from django.core.management import load_command_class

    command = load_command_class("huey.contrib.djhuey", "run_huey")
    parser = command.create_parser("manage.py", "run_huey")
    defaults = vars(parser.parse_args([]))
    assert (defaults["workers"], defaults["verbose"]) == (2, False)  # from HUEY["consumer"]
    given = vars(parser.parse_args(["-w", "5", "-V", "-k", "process", "-A"]))
    assert (given["workers"], given["verbose"], given["worker_type"]) == (5, True, "process")
    assert given["disable_autoload"] is True


@pytest.mark.slow
def test_manage_run_huey_executes_a_db_task(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    manage(project, "migrate", "--run-syncdb", "-v", "0")
    consumer = subprocess.Popen(
        # huey 3's spellings: -g TERM (graceful signal), -L (locks to release at start)
        [sys.executable, "manage.py", "run_huey", "-w", "2", "-q", "-g", "TERM", "-L", "a,b"],
        cwd=project,
        env=project_env(project),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out = manage(
            project,
            "shell",
            "-c",
            "from notes.tasks import write_note; print(write_note('hi').get(True, 30))",
        )
        assert out.strip().splitlines()[-1] == "1"
        with sqlite3.connect(project / "db.sqlite3") as db:
            assert db.execute("select text from notes_note").fetchall() == [("hi",)]
    finally:
        consumer.send_signal(signal.SIGTERM)
        _, stderr = consumer.communicate(timeout=60)
    assert consumer.returncode == 0, stderr
