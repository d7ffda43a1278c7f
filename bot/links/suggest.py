"""`links suggest`: propose Slack user → MaxCare provider links for a person to review."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.links.csv_io import safe_cell
from bot.maxcare import Provider

HEADER = ("slack_user_id", "provider_id", "slack_name", "provider_name", "confidence", "reason")
RANK = {"high": 0, "medium": 1, "low": 2}
# Titles and credentials that are not part of a name ("Dr. James Wilson, MD").
# ("Do" and "Od" are surnames too, so the DO and OD credentials stay in.)
TITLES = frozenset(
    {
        "dr", "doctor", "mr", "mrs", "ms", "miss", "prof", "md", "rn", "np", "pa", "pac", "phd",
        "dds", "dmd", "lpn", "cna", "aprn", "fnp", "dnp", "mba", "mph", "jr", "sr", "ii", "iii",
    }
)  # fmt: skip
SLACKBOT = "USLACKBOT"


@dataclass
class Person:
    """A Slack member who could be linked."""

    user_id: str
    name: str  # what the CSV shows
    full_names: set[str]  # normalised full names
    handle: str  # Slack username, normalised
    email_local: str  # the email's part before @, normalised
    last: str
    first_initial: str


@dataclass
class Proposal:
    """One proposed link."""

    person: Person
    provider: Provider
    confidence: str  # high | medium | low
    reason: str


def words(text: str | None) -> list[str]:
    """Lower-case ASCII name words without titles, credentials or punctuation."""
    plain = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    tokens = re.split(r"[^a-z0-9]+", plain.lower().replace("'", ""))
    return [t for t in tokens if t and t not in TITLES]


def handle(text: str | None) -> str:
    """A username or email local part without case, dots, dashes or underscores."""
    return re.sub(r"[^a-z0-9]", "", (text or "").lower())


def person_of(member: dict[str, Any]) -> Person | None:
    """A linkable person from a users.list member; None for bots, deleted users and Slackbot."""
    user_id = member.get("id")
    if not isinstance(user_id, str) or user_id == SLACKBOT:
        return None
    if member.get("deleted") or member.get("is_bot") or member.get("is_app_user"):
        return None
    profile = member.get("profile") or {}
    real = profile.get("real_name") or member.get("real_name") or ""
    first, last = profile.get("first_name") or "", profile.get("last_name") or ""
    candidates = [real, profile.get("real_name_normalized"), profile.get("display_name")]
    candidates.append(f"{first} {last}")
    full = {" ".join(w) for w in map(words, candidates) if len(w) >= 2}
    main = words(f"{first} {last}") if first and last else words(real)
    email = str(profile.get("email") or "")
    return Person(
        user_id=user_id,
        name=real or str(profile.get("display_name") or member.get("name") or user_id),
        full_names=full,
        handle=handle(member.get("name")),
        email_local=handle(email.split("@", 1)[0]) if "@" in email else "",
        last=main[-1] if len(main) >= 2 else "",
        first_initial=main[0][:1] if len(main) >= 2 else "",
    )


def provider_names(provider: Provider) -> set[str]:
    """A provider's normalised full names (legal and display)."""
    pairs = [
        (provider.first_name, provider.last_name),
        (provider.display_first_name, provider.display_last_name),
    ]
    return {" ".join(w) for w in (words(f"{a or ''} {b or ''}") for a, b in pairs) if len(w) >= 2}


def propose(
    members: Iterable[dict[str, Any]],
    providers: Sequence[Provider],
    linked_users: set[str],
    linked_providers: set[str],
) -> list[Proposal]:
    """The best proposals per unlinked person: full name, then username vs email, then weaker."""
    free = [p for p in providers if p.id not in linked_providers]
    by_name: dict[str, list[Provider]] = defaultdict(list)
    by_username: dict[str, list[Provider]] = defaultdict(list)
    by_last: dict[str, list[Provider]] = defaultdict(list)
    for provider in free:
        for name in provider_names(provider):
            by_name[name].append(provider)
            by_last[name.split()[-1]].append(provider)
        if provider.username:
            by_username[handle(provider.username)].append(provider)
    proposals: list[Proposal] = []
    for member in members:
        person = person_of(member)
        if person is None or person.user_id in linked_users:
            continue
        proposals += _best(person, by_name, by_username, by_last)
    _mark_contested(proposals)
    proposals.sort(key=lambda p: (RANK[p.confidence], p.person.name.lower(), p.provider.id))
    return proposals


def _best(
    person: Person,
    by_name: dict[str, list[Provider]],
    by_username: dict[str, list[Provider]],
    by_last: dict[str, list[Provider]],
) -> list[Proposal]:
    found = _unique(p for name in person.full_names for p in by_name.get(name, []))
    if found:
        return _graded(person, found, "high", "same full name")
    if person.email_local:
        found = by_username.get(person.email_local, [])
        if found:
            why = f"MaxCare username {found[0].username} = email name {person.email_local}"
            return _graded(person, found, "medium", why)
    weak: list[tuple[Provider, str]] = []
    for provider in by_username.get(person.handle, []) if person.handle else []:
        weak.append((provider, f"MaxCare username {provider.username} = Slack username"))
    for provider in by_last.get(person.last, []) if person.last else []:
        first = words(provider.first_name or provider.display_first_name)
        if first and first[0][:1] == person.first_initial:
            weak.append((provider, "same last name and first initial"))
    seen: set[str] = set()
    proposals = []
    for provider, why in weak:
        if provider.id not in seen:
            seen.add(provider.id)
            proposals.append(Proposal(person, provider, "low", why))
    return proposals


def _unique(providers: Iterable[Provider]) -> list[Provider]:
    return list({p.id: p for p in providers}.values())


def _graded(person: Person, found: list[Provider], level: str, why: str) -> list[Proposal]:
    if len(found) == 1:
        return [Proposal(person, found[0], level, why)]
    note = f"{why}, but {len(found)} providers match: keep one row"
    return [Proposal(person, p, "low", note) for p in found]


def _mark_contested(proposals: list[Proposal]) -> None:
    """A provider proposed for several people is a guess for each of them."""
    count: dict[str, int] = defaultdict(int)
    for p in proposals:
        count[p.provider.id] += 1
    for p in proposals:
        if count[p.provider.id] > 1 and p.confidence != "low":
            p.confidence = "low"
            p.reason += f"; also proposed for {count[p.provider.id] - 1} other person(s)"


def to_csv(proposals: Iterable[Proposal]) -> str:
    """Proposals as CSV that `links import` reads (after review)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for p in proposals:
        writer.writerow(
            [
                p.person.user_id,
                p.provider.id,
                safe_cell(p.person.name),
                safe_cell(p.provider.display_name),
                p.confidence,
                p.reason,
            ]
        )
    return out.getvalue()
