"""The signed requests the benchmark sends: `/task` commands and task-form submissions."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence

from benchmarks.load import Signed
from tests.support import payloads, submissions

NURSES = [f"UNURSE{i:02d}" for i in range(10)]
DOCTOR = "UDOCTOR0"


def note_for(channel: str) -> str:
    """The note ID a benchmark submission confirming in `channel` carries (one per channel).

    MaxCare's answer is recorded by note ID and the card by channel: this ties the two.
    """
    return "nte_" + hashlib.md5(channel.encode(), usedforsecurity=False).hexdigest()


def command_requests(count: int, tag: str) -> list[Signed]:
    """Signed `/task nte_… <@doctor> text` commands from linked nurses; key: trigger_id."""
    out = []
    for i in range(count):
        trigger = payloads.new_trigger_id()
        text = f"nte_{secrets.token_hex(16)} <@{DOCTOR}|doctor> Bench {tag} {i}: review the plan"
        body, headers = payloads.slash_command(
            text, user_id=NURSES[i % len(NURSES)], channel_id="C0GENERAL", trigger_id=trigger
        )
        out.append((trigger, body, headers))
    return out


def submission_requests(
    count: int,
    tag: str,
    *,
    team_id: str = payloads.TEAM_ID,
    nurses: Sequence[str] = NURSES,
    doctor: str = DOCTOR,
) -> list[Signed]:
    """Signed valid task-form submissions, each confirming in its own channel; key: channel.

    From `nurses` in turn, each assigning `doctor`, all in workspace `team_id`."""
    out = []
    for i in range(count):
        channel = f"C{tag}{i:07d}"
        body, headers = submissions.submission(
            view_id=submissions.new_view_id(),
            note=note_for(channel),
            notes=f"bench {tag} {i}: plan missing for Impression #3",
            assignees=[doctor],
            user_id=nurses[i % len(nurses)],
            channel=channel,
            team_id=team_id,
        )
        out.append((channel, body, headers))
    return out


def mixed_requests(kinds: list[str], tag: str) -> list[tuple[str, Signed]]:
    """One request per entry of `kinds` ("command" or "submission"), in that order."""
    commands = iter(command_requests(kinds.count("command"), tag + "C"))
    subs = iter(submission_requests(kinds.count("submission"), tag + "S"))
    return [(k, next(commands) if k == "command" else next(subs)) for k in kinds]


class Tags:
    """Short unique upper-case tags, so channels and notes never repeat within a run."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"B{self.n:03d}"
