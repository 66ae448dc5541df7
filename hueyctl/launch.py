"""What supervisord runs for an instance: ``python -m hueyctl.launch MANIFEST INSTANCE``.

It reads the manifest, sets the environment (manifest env, then the instance's, with
``${VAR}`` read from the environment supervisord passed down), binds the instance's Huey
object, and runs its consumer in this same process: supervisord's signals reach the
consumer directly and no shell sits in between.
"""

from __future__ import annotations

import os
import sys

from hueyctl.bind import bind, create_sqlite_directory
from hueyctl.errors import HueyctlError
from hueyctl.manifest import load
from hueyctl.statedir import STATE_DIR_ENV


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m hueyctl.launch MANIFEST INSTANCE", file=sys.stderr)
        return 2
    path, name = args
    try:
        # A "${VAR}" that supervisord's environment lacks fails here. supervisord keeps
        # the environment it started with: a variable set later reaches the consumers
        # only after `hueyctl down` and `hueyctl up`.
        manifest = load(path, state_dir=os.environ.get(STATE_DIR_ENV))
        instance = manifest.instance(name)
        create_sqlite_directory(manifest, instance)
        huey = bind(manifest, [name])[name]  # sets the manifest's env first
    except HueyctlError as exc:
        print(f"hueyctl.launch: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # the SQLite directory could not be created
        print(f"hueyctl.launch: {exc}", file=sys.stderr)
        return 1

    from huey.bin.huey_consumer import configure_logging
    from huey.consumer import Consumer

    options = instance.options
    configure_logging(options)
    Consumer.from_options(huey, options).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
