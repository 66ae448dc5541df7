"""Cron schedules for periodic tasks: parse fields into a matcher, nothing else.

``crontab()`` takes huey's keyword fields; ``parse_cron()`` takes a 5-field cron string.
Both return a ``Crontab``, a callable that says whether a datetime's minute matches.

Choice (differs from Vixie cron, follows huey): every field must match, including
day and day_of_week together, so ``parse_cron("0 0 13 * 5")`` means Friday the 13th.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import MAXYEAR, date, datetime, time, timedelta

# name -> (lowest, highest) for "*"; day_of_week also accepts 7 as Sunday.
_RANGES = {
    "minute": (0, 59),
    "hour": (0, 23),
    "day": (1, 31),
    "month": (1, 12),
    "day_of_week": (0, 6),
}
_CRON_ORDER = ("minute", "hour", "day", "month", "day_of_week")
_PART = re.compile(r"(?:(\*)|(\d+)(?:-(\d+))?)(?:/(\d+))?")
_MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
# The Gregorian calendar, weekdays included, repeats every 400 years: a schedule
# with no match in that span never matches.
_CALENDAR_CYCLE_YEARS = 400


@dataclass(frozen=True, repr=False)
class Crontab:
    """A parsed schedule; ``schedule(dt)`` is True when dt's minute matches every field."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]  # 0 = Sunday
    expression: str = field(default="", compare=False)

    def __call__(self, dt: datetime) -> bool:
        return (
            dt.minute in self.minutes
            and dt.hour in self.hours
            and dt.day in self.days
            and dt.month in self.months
            and dt.isoweekday() % 7 in self.days_of_week
        )

    def __repr__(self) -> str:
        return f"<Crontab {self.expression!r}>"

    def next_match(self, after: datetime) -> datetime:
        """The first matching minute strictly after ``after`` (seconds zeroed, tzinfo kept).

        Raises ValueError when the schedule can never match (e.g. day=30, month=2).
        """
        start = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        for day in self._matching_dates(start.date()):
            earliest = start.time() if day == start.date() else time(0, 0)
            at = self._first_time(earliest)
            if at is not None:
                return datetime.combine(day, at, tzinfo=after.tzinfo)
        raise ValueError(f"{self!r} never matches after {after.isoformat()}")

    def _matching_dates(self, start: date) -> Iterator[date]:
        """Dates from ``start`` on whose month, day and weekday match, one calendar cycle."""
        months, days = sorted(self.months), sorted(self.days)
        last_year = min(start.year + _CALENDAR_CYCLE_YEARS, MAXYEAR)
        for year in range(start.year, last_year + 1):
            for month in months:
                if (year, month) < (start.year, start.month):
                    continue
                month_length = calendar.monthrange(year, month)[1]
                for day in days:
                    if day > month_length:
                        break
                    candidate = date(year, month, day)
                    if candidate >= start and candidate.isoweekday() % 7 in self.days_of_week:
                        yield candidate

    def _first_time(self, earliest: time) -> time | None:
        """The first matching hour:minute at or after ``earliest`` within one day."""
        for hour in sorted(h for h in self.hours if h >= earliest.hour):
            floor = earliest.minute if hour == earliest.hour else 0
            minute = min((m for m in self.minutes if m >= floor), default=None)
            if minute is not None:
                return time(hour, minute)
        return None


def crontab(
    month: str | int = "*",
    day: str | int = "*",
    day_of_week: str | int = "*",
    hour: str | int = "*",
    minute: str | int = "*",
    *,
    strict: bool = False,
) -> Crontab:
    """A matcher for the given fields; each is "*", "*/n", "m", "m-n", "m-n/s" or a comma list.

    "m/s" means "m-<highest>/s"; "m-n" with m > n wraps around ("22-2" is 22, 23, 0, 1, 2).
    day_of_week takes 0-6 with 0 = Sunday, and 7 as Sunday.
    Raises ValueError naming the field and value when one is malformed or out of range.
    ``strict`` is huey 3's switch to that behaviour: accepted, since parsing is always strict.
    """
    values = dict(minute=minute, hour=hour, day=day, month=month, day_of_week=day_of_week)
    return _build(values, source="crontab")


def _hourly() -> Crontab:
    """huey 3's ``crontab.hourly()``: every hour, on the hour."""
    return crontab(minute="0")


def _daily() -> Crontab:
    """huey 3's ``crontab.daily()``: every day at midnight."""
    return crontab(minute="0", hour="0")


crontab.hourly = _hourly  # type: ignore[attr-defined]
crontab.daily = _daily  # type: ignore[attr-defined]


def parse_cron(expression: str) -> Crontab:
    """A matcher for a cron string "minute hour day month day_of_week", or a macro like @daily."""
    text = _MACROS.get(expression.strip().lower(), expression)
    fields = text.split()
    if len(fields) != len(_CRON_ORDER):
        raise ValueError(
            f"cron {expression!r}: expected 5 fields (minute hour day month day_of_week) "
            f"or one of {', '.join(_MACROS)}, got {len(fields)} fields"
        )
    return _build(dict(zip(_CRON_ORDER, fields, strict=True)), source=f"cron {expression!r}")


def _build(values: dict[str, str | int], source: str) -> Crontab:
    parsed = {name: _parse_field(name, values[name], source) for name in _CRON_ORDER}
    expression = " ".join(str(values[name]).replace(" ", "") for name in _CRON_ORDER)
    return Crontab(
        minutes=parsed["minute"],
        hours=parsed["hour"],
        days=parsed["day"],
        months=parsed["month"],
        days_of_week=parsed["day_of_week"],
        expression=expression,
    )


def _parse_field(name: str, value: str | int, source: str) -> frozenset[int]:
    """The set of values one field allows; ValueError on anything malformed or out of range."""
    low, high = _RANGES[name]
    top = 7 if name == "day_of_week" else high  # cron's second spelling of Sunday

    def fail(problem: str) -> ValueError:
        return ValueError(f"{source} {name}: {problem}")

    def bounded(number: int) -> int:
        if not low <= number <= top:
            raise fail(f"{str(number)!r} is outside {low}-{top}")
        return number

    def expand(part: str) -> Sequence[int]:
        match = _PART.fullmatch(part)
        if match is None:
            raise fail(f"{part!r} is malformed; use *, */n, m, m-n, m-n/s or a comma list")
        star, first, last, step = match.groups()
        if star:
            start, stop = low, high
        else:
            start = bounded(int(first))
            stop = bounded(int(last)) if last else (max(start, high) if step else start)
        if step is not None and int(step) == 0:
            raise fail(f"{part!r} has a step of 0; the step must be at least 1")
        values: Sequence[int]
        if start <= stop:
            values = range(start, stop + 1)
        else:  # wraps, as in huey 3: "22-2" is 22, 23, 0, 1, 2; "5-1" Friday to Monday
            last_before_wrap = 6 if name == "day_of_week" else high  # 7 is Sunday again
            values = [*range(start, last_before_wrap + 1), *range(low, stop + 1)]
        return values[:: int(step or 1)]  # a step counts across the wrap

    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise fail(f"{value!r} is not a str or int")
    if isinstance(value, int):
        allowed = {bounded(value)}
    else:
        allowed = {n for part in value.replace(" ", "").split(",") for n in expand(part)}
    if name == "day_of_week":
        allowed = {weekday % 7 for weekday in allowed}
    return frozenset(allowed)
