"""The package surface: what ``import huey`` exports and that importing it is inert."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import huey
from huey import exceptions


def test_all_names_exist_and_are_exported():
    assert sorted(huey.__all__) == sorted(set(huey.__all__))
    for name in huey.__all__:
        assert getattr(huey, name) is not None, name


def test_import_opens_no_connection_and_no_file(tmp_path):
    code = (
        "import socket, builtins\n"
        "def refuse(*a, **k): raise AssertionError('network used at import')\n"
        "socket.socket.connect = refuse\n"
        "import huey, huey.consumer, huey.storage\n"
        "huey.Huey('x'); huey.RedisHuey('y')\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, timeout=60)
    assert list(tmp_path.iterdir()) == []


def test_exception_tree_keeps_control_flow_outside_huey_exception():
    for name in ("CancelExecution", "TaskLockedException", "TaskException"):
        assert not issubclass(getattr(exceptions, name), exceptions.HueyException), name
    for name in ("DataStoreTimeout", "StorageUnavailable", "QueueWriteException"):
        assert issubclass(getattr(exceptions, name), exceptions.QueueException), name
    assert issubclass(exceptions.SignatureError, exceptions.MessageError)


def test_task_exception_carries_metadata():
    error = exceptions.TaskException({"error": "ValueError('x')", "task_id": "1"})
    assert str(error) == "ValueError('x')" and error.metadata["task_id"] == "1"


def test_huey_api_exposes_what_the_reference_shows_there():
    # huey 1.x applications write `from huey.api import crontab, Huey, QueueTask, ...`.
    from huey import api
    from huey.api import crontab

    reference = {"Huey", "TaskWrapper", "QueueTask", "PeriodicQueueTask", "TaskResultWrapper"}
    reference |= {"crontab", "BaseStorage", "RedisHuey", "SqliteHuey", "TaskLock"}
    assert reference <= set(api.__all__)
    assert [name for name in api.__all__ if not hasattr(api, name)] == []
    assert crontab is huey.crontab and api.TaskResultWrapper is huey.TaskResultWrapper


def test_the_consumer_also_installs_under_huey3s_script_name():
    # Service files and supervisor configs written for huey 3 run `huey_consumer.py APP`.
    script = Path(sys.executable).parent / "huey_consumer.py"
    done = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, check=True, timeout=60
    )
    assert "MODULE.HUEY" in done.stdout
