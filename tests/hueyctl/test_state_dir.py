"""The state directory: used only when its owner alone can change it; every file in it
is the owner's only; an instance without storage keeps its SQLite database there."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hueyctl import bind, deployment, state
from hueyctl.manifest import load
from hueyctl.statedir import open_private
from hueyctl.supervisor import pid_alive

from .hueyctl_helpers import write_app, write_manifest
from .test_e2e import in_foreground, rows_printed, wait_for

TWO_LINES = """
version: 1
project: trust
instances:
  plain:
    app: plain_app:huey
"""
OTHER_UID = 65534  # nobody
# Beside the two-line instance, one whose SQLite directory does not exist yet, and one
# whose storage directory does not.
WITH_NESTED = (
    TWO_LINES
    + "  nested:\n    app: nested_app:huey\n    storage: sqlite:///data/nested/q.db\n"
    + "  filed:\n    app: filed_app:huey\n    storage: file:data/filed/queues\n"
)


@pytest.fixture
def owner_umask() -> Iterator[None]:
    """The umask most shells have (022): files are 0644 unless hueyctl says otherwise."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def make_symlink(state_dir: Path) -> None:
    real = state_dir.with_name("real-state")
    real.mkdir(mode=0o700)
    state_dir.symlink_to(real)


def group_writable(state_dir: Path) -> None:
    state_dir.mkdir()
    state_dir.chmod(0o770)


def writable_file_inside(state_dir: Path) -> None:
    (state_dir / "logs").mkdir(parents=True, mode=0o700)
    (state_dir / "logs" / "plain.err.log").touch(mode=0o666)
    os.chmod(state_dir / "logs" / "plain.err.log", 0o666)


def log_symlink_inside(state_dir: Path) -> None:
    (state_dir / "logs").mkdir(parents=True, mode=0o700)
    (state_dir / "supervisord.log").symlink_to(state_dir.parent / "victim.txt")


def owned_by_another_user(state_dir: Path) -> None:
    state_dir.mkdir(mode=0o700)
    os.chown(state_dir, OTHER_UID, OTHER_UID)


UNTRUSTED: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "symlink": (make_symlink, "", "the state directory is a symlink"),
    "group-writable": (group_writable, "", "the state directory is writable by group or others"),
    "writable-log": (
        writable_file_inside,
        "/logs/plain.err.log",
        "a file of the state directory is writable by group or others",
    ),
    "symlinked-log": (
        log_symlink_inside,
        "/supervisord.log",
        "a file of the state directory is a symlink",
    ),
    "other-owner": (
        owned_by_another_user,
        "",
        f"the state directory is owned by uid {OTHER_UID}, not by this user",
    ),
}


@pytest.mark.parametrize("case", list(UNTRUSTED))
def test_a_state_dir_others_can_change_is_refused(hueyctl, tmp_path: Path, case: str) -> None:
    if case == "other-owner" and os.geteuid() != 0:
        pytest.skip("only root can give a directory to another user")
    prepare, inside, reason = UNTRUSTED[case]
    path = write_manifest(tmp_path / "m.yaml", TWO_LINES)
    state_dir = tmp_path / ".hueyctl"
    prepare(state_dir)
    (tmp_path / "victim.txt").write_text("untouched\n")

    for command in ("up", "validate", "down"):
        result = hueyctl(command, path)
        assert result.exit_code == 2, (command, result.output)
        assert result.stderr.startswith(f"{state_dir}{inside}: {reason}"), result.stderr
        assert len(result.stderr.splitlines()) == 1
    # Nothing was started or written there.
    assert not (state_dir / "supervisord.pid").exists()
    assert not (state_dir / "supervisord.conf").exists()
    assert (tmp_path / "victim.txt").read_text() == "untouched\n"


def test_state_files_are_opened_without_following_symlinks(tmp_path: Path) -> None:
    (tmp_path / "target").write_text("{}")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    with pytest.raises(OSError):
        open_private(tmp_path / "link", os.O_RDONLY)
    # A file an older hueyctl left readable by others becomes the owner's only.
    (tmp_path / "old.log").touch(mode=0o644)
    os.close(open_private(tmp_path / "old.log", os.O_WRONLY | os.O_CREAT))
    assert stat.S_IMODE((tmp_path / "old.log").stat().st_mode) == 0o600


def test_up_takes_group_and_others_access_to_old_files_away(tmp_path: Path) -> None:
    where = state.Paths(tmp_path / "state")
    where.logs.mkdir(parents=True)
    for path in (where.root, where.logs):
        path.chmod(0o755)
    for path in (where.logfile, where.log("plain", "err")):
        path.touch()
        path.chmod(0o644)
    where.create()
    assert group_or_others_can_read(where.root) == []
    assert stat.S_IMODE(where.logfile.stat().st_mode) == 0o600
    assert stat.S_IMODE(where.logs.stat().st_mode) == 0o700


def test_files_a_running_storage_moves_meanwhile_are_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file storage kept in the state directory renames its files as consumers work.
    where = state.Paths(tmp_path / "state")
    queue = where.root / "queues" / "shop" / "queue"
    queue.mkdir(parents=True)
    for name in ("taken", "kept"):
        (queue / name).touch(mode=0o644)
    look = os.lstat

    def taken_meanwhile(path: Path) -> os.stat_result:
        if Path(path).name == "taken":
            os.unlink(path)  # between the listing and the look at it
        return look(path)

    monkeypatch.setattr(os, "lstat", taken_meanwhile)
    where.create()
    assert stat.S_IMODE((queue / "kept").stat().st_mode) == 0o600


def group_or_others_can_read(state_dir: Path) -> list[str]:
    """Every path in the state directory that is not its owner's alone."""
    found = []
    for directory, names, files in os.walk(state_dir):
        for name in (*names, *files):
            path = Path(directory, name)
            if path.lstat().st_mode & 0o077:
                found.append(f"{path.relative_to(state_dir)} {oct(path.lstat().st_mode)}")
    return found


@pytest.mark.slow
def test_two_line_instance_runs_on_sqlite_in_the_state_dir_with_owner_only_files(
    hueyctl, tmp_path: Path, fresh_imports: None, owner_umask: None
) -> None:
    write_app(tmp_path, "plain_app", "plain")
    write_app(tmp_path, "nested_app", "nested")
    write_app(tmp_path, "filed_app", "filed")
    path = write_manifest(tmp_path / "m.yaml", WITH_NESTED)
    state_dir = tmp_path / ".hueyctl"
    try:
        result = hueyctl("up", path)
        assert result.exit_code == 0, result.output

        # The application binds to the same manifest and reaches the same database.
        huey = bind(path)["plain"]
        from plain_app import record

        assert record.huey is huey
        assert record("hi").get(blocking=True, timeout=30) == "hi"
        assert (state_dir / "plain.db").is_file()
        # The consumer created its SQLite file's directory, for its owner only.
        nested = tmp_path / "data" / "nested"
        wait_for(lambda: (nested / "q.db").is_file())
        assert stat.S_IMODE(nested.stat().st_mode) == 0o700
        # And its storage directory (files in it are the consumer's umask's: 077).
        queues = tmp_path / "data" / "filed" / "queues"
        wait_for(lambda: (queues / "filed" / "queue").is_dir())
        assert stat.S_IMODE(queues.stat().st_mode) == 0o700
        assert stat.S_IMODE((queues / "filed").stat().st_mode) == 0o700

        logs = ["supervisord.log", "supervisord.start.log", "logs/plain.err.log"]
        assert all((state_dir / log).is_file() for log in logs)
        assert group_or_others_can_read(state_dir) == []
    finally:
        deployment.down(load(path))


@pytest.mark.slow
def test_foreground_supervisord_writes_owner_only_files(
    tmp_path: Path, fresh_imports: None, owner_umask: None
) -> None:
    write_app(tmp_path, "plain_app", "plain")
    path = write_manifest(tmp_path / "m.yaml", TWO_LINES)
    where = state.paths(load(path))
    with in_foreground(path, sys.stderr) as main:
        rows = rows_printed(main)
        assert [(r["instance"], r["state"]) for r in rows] == [("plain", "RUNNING")]
        wait_for(lambda: where.log("plain", "err").exists())
        assert where.logfile.is_file()
        assert group_or_others_can_read(where.root) == []
        main.terminate()
        main.wait(60)
    assert not pid_alive(rows[0]["pid"])
