"""Django projects as instances: ``django_settings: mysite.settings`` in the manifest sets
Django up (settings, apps, every app's ``tasks`` module) before the app's Huey, by default
djhuey's ``HUEY``, is imported; then binding points it at the manifest's storage."""

from __future__ import annotations

import importlib.util
import os

from hueyctl.errors import BadInput

#: The Huey an instance with ``django_settings`` and no ``app`` runs: settings.HUEY's.
DJANGO_APP = "huey.contrib.djhuey:HUEY"


def setup_django(settings_module: str) -> None:
    """Set Django up with ``settings_module`` and import every app's tasks module, unless
    this process already configured Django (a web process binding from its own code)."""
    from django.conf import settings

    if settings.configured:
        if settings.SETTINGS_MODULE != settings_module:
            raise BadInput(
                f"Django is already set up with {settings.SETTINGS_MODULE!r}, not "
                f"{settings_module!r}: one process serves one Django project"
            )
        return
    import django
    from django.utils.module_loading import autodiscover_modules

    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    django.setup()
    autodiscover_modules("tasks")


def settings_problem(settings_module: str) -> str | None:
    """Why ``settings_module`` cannot be found, else None. Validation stops there: setting
    Django up would tie hueyctl's own process to one project; the consumer does it."""
    try:
        found = importlib.util.find_spec(settings_module) is not None
    except ImportError as exc:
        return f"cannot import {settings_module!r}: {exc}"
    return None if found else f"cannot import {settings_module!r}: no such module"
