"""A tiny Django project for djhuey's tests: SQLite database, HUEY as huey 3's dict.

The environment chooses the files and the queue, so each test runs on its own.
"""

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

SECRET_KEY = "tests-only"
DEBUG = True  # immediate mode would follow DEBUG; HUEY sets it explicitly
USE_TZ = True
INSTALLED_APPS = ["huey.contrib.djhuey", "notes"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJPROJECT_DB", str(HERE / "db.sqlite3")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

HUEY = {
    "huey_class": "huey.Huey",
    "name": "djproject",
    "immediate": False,
    "results": True,
    "url": os.environ.get("DJPROJECT_HUEY_URL", f"sqlite:///{HERE / 'huey.db'}"),
    "consumer": {"workers": 2, "worker_type": "thread", "backoff": 1.15},
}
