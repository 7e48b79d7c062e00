"""One exception tree for the engine core."""

from __future__ import annotations


class NextbestError(Exception):
    """Root of every error nextbest raises on purpose."""


class UnprocessableEvent(NextbestError):
    """A well-formed event the engine cannot act on; it goes to the dead-letter topic.

    ``reason`` is a short, fixed machine code (it becomes a metric label).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
