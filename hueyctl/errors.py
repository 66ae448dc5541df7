"""hueyctl's errors; each class carries the exit code the CLI ends with.

The tree::

    HueyctlError            exit 1: an operation failed (supervisord, a consumer, storage)
    +-- OperationFailed     ... and carries the log tail of the consumer that failed
    +-- Unhealthy           exit 3: `status` printed an instance not running or not reaching
    |                       its storage (as `supervisorctl status` exits 3)
    +-- BadInput            exit 2: the user asked for something that cannot be done
        +-- ManifestError   exit 2: the manifest is invalid; carries every Problem found
        +-- MissingVariable exit 2: a ``${VAR}`` the command needs is not set
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a manifest, located well enough to fix it."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class HueyctlError(Exception):
    """An operation failed; the CLI exits 1."""

    exit_code = 1


class OperationFailed(HueyctlError):
    """An operation failed; ``detail`` (e.g. a consumer's log tail) is printed after it."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class Unhealthy(HueyctlError):
    """Some instance is not RUNNING or cannot reach its storage; exit 3."""

    exit_code = 3


class BadInput(HueyctlError):
    """The command's input is wrong (unknown instance, ambiguous task id); exit 2."""

    exit_code = 2


class ManifestError(BadInput):
    """A manifest failed validation; ``problems`` lists all of them, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.field))
        super().__init__("\n".join(str(p) for p in self.problems))


class MissingVariable(BadInput):
    """A ``${VAR}`` whose value the command needs is not set in its environment; exit 2."""

    def __init__(self, name: str) -> None:
        super().__init__(f"${{{name}}} is not set in the environment")
        self.name = name
