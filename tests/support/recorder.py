"""Stand-ins for Bolt's ack and respond that record their calls, for listeners called alone."""

from __future__ import annotations

from typing import Any


class Recorder:
    """An async callable (an ack, a respond) that keeps the arguments of every call."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, text: str | None = None, **kwargs: Any) -> None:
        self.calls.append(kwargs if text is None else {"text": text, **kwargs})

    @property
    def only(self) -> dict[str, Any]:
        """The one call made (fails unless there was exactly one)."""
        assert len(self.calls) == 1, self.calls
        return self.calls[0]
