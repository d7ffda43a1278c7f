"""MaxCare IDs: `nte_`/`prv_`/`tsk_` + 32 lowercase hex; a dashed UUID is accepted and converted."""

from __future__ import annotations

import re

__all__ = [
    "NOTE", "NOTE_ID_RE", "PROVIDER", "PROVIDER_ID_RE", "TASK", "TASK_ID_RE", "UUID_RE",
    "find_id", "normalize_id", "normalize_note_id", "normalize_provider_id",
]  # fmt: skip

NOTE, PROVIDER, TASK = "nte", "prv", "tsk"

_HEX32 = "[0-9a-f]{32}"
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

# fullmatch() validates; search()/findall() find IDs inside free text (the word boundaries keep
# them from matching mid-token).
NOTE_ID_RE = re.compile(rf"\b{NOTE}_{_HEX32}\b")
PROVIDER_ID_RE = re.compile(rf"\b{PROVIDER}_{_HEX32}\b")
TASK_ID_RE = re.compile(rf"\b{TASK}_{_HEX32}\b")
UUID_RE = re.compile(rf"\b{_UUID}\b")


def _prefix(prefix: str) -> str:
    """'nte', 'nte_' or 'NTE' → 'nte_'."""
    return prefix.lower().rstrip("_") + "_"


def normalize_id(value: object, prefix: str) -> str | None:
    """Prefixed lowercase ID from a prefixed ID or a dashed UUID (any case), else None."""
    if not isinstance(value, str):
        return None
    prefix = _prefix(prefix)
    text = value.strip().lower()
    if re.fullmatch(re.escape(prefix) + _HEX32, text):
        return text
    if UUID_RE.fullmatch(text):
        return prefix + text.replace("-", "")
    return None


def normalize_note_id(value: object) -> str | None:
    """`nte_…` from a note ID or the note's UUID, else None."""
    return normalize_id(value, NOTE)


def normalize_provider_id(value: object) -> str | None:
    """`prv_…` from a provider ID or the provider's UUID, else None."""
    return normalize_id(value, PROVIDER)


def find_id(text: str, prefix: str) -> re.Match[str] | None:
    """The first `prefix_…` ID in free text (any case), else the first dashed UUID in it."""
    prefixed = rf"\b{re.escape(_prefix(prefix))}{_HEX32}\b"
    found = re.search(prefixed, text, re.IGNORECASE)
    return found or re.search(UUID_RE.pattern, text, re.IGNORECASE)
