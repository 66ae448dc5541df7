"""huey 3's ``huey.utils`` names that apps import: what a chord callback finds in place of
a member that failed (:data:`Error`) or never ran (:data:`SKIPPED`)."""

from __future__ import annotations

from .result import ErrorResult

#: What a task that failed for good leaves in the result store (reading it through a
#: Result raises TaskException), and what a chord callback gets for a failed member.
Error = ErrorResult


class _Skipped:
    """The type of :data:`SKIPPED`: one instance, which pickles by name so it stays the one."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "SKIPPED"

    def __reduce__(self) -> str:
        return "SKIPPED"


#: A chord member's result when it never ran (revoked, expired, canceled, locked).
SKIPPED = _Skipped()
