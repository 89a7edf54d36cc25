"""Domain errors carry the message a user should see; anything else is a bug and gets an error id."""

from __future__ import annotations

import uuid


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


BUSY_MESSAGE = "rebill-bot is busy, try again in a moment."


class Busy(RebillError):
    """The database stayed locked, or the slow-work queue is full: nothing was changed, retry."""

    def __init__(self, user_message: str = BUSY_MESSAGE) -> None:
        super().__init__(user_message)
