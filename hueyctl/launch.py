"""What supervisord runs for an instance: ``python -m hueyctl.launch MANIFEST INSTANCE``.

It reads the manifest as `up` last applied it (the copy in the state directory), sets
the environment (manifest env, then the instance's, with ``${VAR}`` read from the
environment supervisord passed down), binds the instance's Huey object, and runs its
consumer in this same process: supervisord's signals reach the consumer directly and no
shell sits in between. With ``--check`` (`up`'s check of a new or changed instance), it
reads the live manifest and stops once the storage answers.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from huey.bin.huey_consumer import run_consumer
from huey.exceptions import HueyException
from hueyctl.bind import bind, create_storage_directory
from hueyctl.errors import HueyctlError
from hueyctl.lifeline import end_with_parent
from hueyctl.manifest import load
from hueyctl.state import applied_manifest
from hueyctl.statedir import STATE_DIR_ENV

if TYPE_CHECKING:
    from huey import Huey
    from hueyctl.manifest import Manifest


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    check = args[:1] == ["--check"]
    if len(args) != 2 + check:
        print("usage: python -m hueyctl.launch [--check] MANIFEST INSTANCE", file=sys.stderr)
        return 2
    path, name = args[check:]
    end_with_parent()  # no consumer outlives its supervisord
    try:
        # A "${VAR}" that supervisord's environment lacks fails here. supervisord keeps
        # the environment it started with: a variable set later reaches the consumers
        # only after `hueyctl down` and `hueyctl up`.
        state_dir = os.environ.get(STATE_DIR_ENV)
        if check:
            manifest = load(path, state_dir=state_dir)
        else:
            manifest = applied_manifest(Path(path), state_dir and Path(state_dir))
        instance = manifest.instance(name)
        create_storage_directory(manifest, instance)
    except HueyctlError as exc:
        return _refuse(exc, exc.exit_code)
    except OSError as exc:  # the storage's directory could not be created
        return _refuse(exc, 1)
    if check:  # `up`'s check: the app imports and binds, and the storage answers
        try:
            _bound(manifest, name).storage.queue_size()
        except HueyException as exc:  # a storage that does not answer: one line, no traceback
            return _refuse(exc, 1)
        return 0
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
