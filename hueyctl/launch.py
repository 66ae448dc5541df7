"""What supervisord runs for an instance: ``python -m hueyctl.launch MANIFEST INSTANCE``.

It reads the manifest, sets the environment (manifest env, then the instance's, with
``${VAR}`` read from the environment supervisord passed down), binds the instance's Huey
object, and runs its consumer in this same process: supervisord's signals reach the
consumer directly and no shell sits in between.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from huey.bin.huey_consumer import run_consumer
from hueyctl.bind import bind, create_sqlite_directory
from hueyctl.errors import HueyctlError
from hueyctl.manifest import load
from hueyctl.statedir import STATE_DIR_ENV

if TYPE_CHECKING:
    from huey import Huey
    from hueyctl.manifest import Manifest


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
    except HueyctlError as exc:
        return _refuse(exc, exc.exit_code)
    except OSError as exc:  # the SQLite directory could not be created
        return _refuse(exc, 1)
    # bind() sets the manifest's env and imports the app: run_consumer calls it after
    # gevent's patching.
    return run_consumer(instance.options, lambda: _bound(manifest, name), "hueyctl.launch")


def _bound(manifest: Manifest, name: str) -> Huey:
    """The instance's Huey object; a problem importing it exits with one line and its code."""
    try:
        return bind(manifest, [name])[name]
    except HueyctlError as exc:
        raise SystemExit(_refuse(exc, exc.exit_code)) from None


def _refuse(error: Exception, exit_code: int) -> int:
    """Say why the consumer cannot start, in one line; return the exit code."""
    print(f"hueyctl.launch: {error}", file=sys.stderr)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
