"""Tasks written the huey 3 way, found by run_huey's autoload."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task, periodic_task, task
from notes.models import Note


@task()
def add(a, b):
    return a + b


@db_task()
def write_note(text):
    Note.objects.create(text=text)
    return Note.objects.count()


@db_periodic_task(crontab(minute="0", hour="4"))
def count_notes():
    return Note.objects.count()


@periodic_task(crontab(minute="0", hour="3"))
def nightly():
    return "nightly"


@task()
@lock_task("single-report")
def report():
    return "report"
