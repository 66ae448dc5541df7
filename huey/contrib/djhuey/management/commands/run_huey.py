"""``manage.py run_huey [flags]``: run the consumer of ``settings.HUEY``.

Takes every ``huey_consumer`` flag (``-V``/``--huey-verbose`` for verbose: Django owns
``-v``); ``HUEY["consumer"]`` gives their defaults and the command line wins. The
``tasks`` module of every installed app is imported first, unless ``-A``.
"""

from __future__ import annotations

import argparse
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils.module_loading import autodiscover_modules

from huey.bin.huey_consumer import run_consumer
from huey.consumer.options import add_flags, huey3_argv, options_from_namespace
from huey.contrib.djsettings import consumer_settings


class Command(BaseCommand):
    help = "Run the huey consumer for settings.HUEY."

    def run_from_argv(self, argv: list[str]) -> None:
        super().run_from_argv(huey3_argv(argv))

    def add_arguments(self, parser: CommandParser) -> None:
        add_flags(parser, renamed={"verbose": ("-V", "--huey-verbose")})
        parser.add_argument(
            "-A",
            "--disable-autoload",
            action="store_true",
            help="do not import the tasks module of every installed app",
        )
        parser.set_defaults(**consumer_settings(getattr(settings, "HUEY", None)))

    def handle(self, *args: Any, **options: Any) -> None:
        from huey.contrib.djhuey import HUEY

        if not options["disable_autoload"]:
            autodiscover_modules("tasks")
        consumer_options = options_from_namespace(argparse.Namespace(**options))
        run_consumer(consumer_options, lambda: HUEY, "run_huey")
