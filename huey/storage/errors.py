"""One backend's errors -> the library's StorageError: a context manager and a method
decorator built from the backend's error class and its mapping function."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from huey.exceptions import StorageError

Method = TypeVar("Method", bound=Callable[..., Any])
Convert = Callable[[str, Exception], StorageError]


class ErrorMapping:
    """Raise ``catch`` errors as ``convert(where, error)``, keeping the cause; ``where``
    names the server or file in the message (a storage's attribute of that name)."""

    def __init__(self, catch: type[Exception], convert: Convert, where: str) -> None:
        self.catch, self.convert, self.where = catch, convert, where

    @contextlib.contextmanager
    def errors(self, where: str) -> Iterator[None]:
        """Map the errors raised inside the ``with`` block."""
        try:
            yield
        except self.catch as exc:
            raise self.convert(where, exc) from exc

    def method(self, method: Method) -> Method:
        """Decorate a storage method so its errors are mapped."""
        catch, convert, where = self.catch, self.convert, self.where

        @functools.wraps(method)
        def wrapper(storage: Any, *args: Any, **kwargs: Any) -> Any:
            try:  # not the context manager: this runs several times per task
                return method(storage, *args, **kwargs)
            except catch as exc:
                raise convert(getattr(storage, where), exc) from exc

        return wrapper  # type: ignore[return-value]
