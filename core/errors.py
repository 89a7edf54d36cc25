"""Domain errors carry the message a user should see; anything else is a bug and gets an error id."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class RebillError(Exception):
    """An expected failure, explained for the person who caused it."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class NotFound(RebillError):
    pass


class NotAllowed(RebillError):
    pass


class FieldErrors(RebillError):
    """Validation failures keyed by field name, so a modal can show each one beside its input."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors.items()))


def error_id() -> str:
    """A short id for an unexpected failure: the user quotes it, the log line carries it (Slack, CLI, jobs)."""
    return uuid.uuid4().hex[:8]


class ErrorCollector(dict[str, str]):
    """The one way a form is validated: every field checked, every problem reported at once.

    Customer, charge and settings validation all collect into one of these and raise a single
    `FieldErrors`, so a Slack modal marks each bad input and the CLI lists them together. It is a
    dict (field -> message) so small parsers can write `errors[field] = message` directly.
    """

    def check(self, field: str, parse: Callable[[], T]) -> T | None:
        """`parse()`'s value, or None with its message recorded against `field`."""
        try:
            return parse()
        except FieldErrors as error:
            self[field] = error.errors.get(field) or error.user_message
        except ValueError as error:
            self[field] = str(error)
        return None

    def add(self, field: str, message: str) -> None:
        """A cross-field rule's message; a field keeps the first problem found with it."""
        self.setdefault(field, message)

    def absorb(self, error: FieldErrors) -> None:
        """Every message of a nested validation (a sub-form, a shared parser that raises)."""
        self.update(error.errors)

    def raise_if_any(self) -> None:
        if self:
            raise FieldErrors(self)


BUSY_MESSAGE = "rebill-bot is busy, try again in a moment."


class Busy(RebillError):
    """The database stayed locked, or the slow-work queue is full: nothing was changed, retry."""

    def __init__(self, user_message: str = BUSY_MESSAGE) -> None:
        super().__init__(user_message)
