"""hueyctl's errors; each class carries the exit code the CLI ends with.

The tree::

    HueyctlError            exit 1: an operation failed (supervisord, a consumer, storage)
    +-- OperationFailed     ... and carries the log tail of the consumer that failed
    +-- BadInput            exit 2: the user asked for something that cannot be done
        +-- ManifestError   exit 2: the manifest is invalid; carries every Problem found
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


class BadInput(HueyctlError):
    """The command's input is wrong (unknown instance, ambiguous task id); exit 2."""

    exit_code = 2


class ManifestError(BadInput):
    """A manifest failed validation; ``problems`` lists all of them, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.field))
        super().__init__("\n".join(str(p) for p in self.problems))
