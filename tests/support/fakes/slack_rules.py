"""What the real Slack Web API refuses, for FakeSlack: scopes, Block Kit, triggers, response_url."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.basic_objects import JsonObject
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from tests.support import ROOT

TRIGGER_SECONDS = 3.0  # a trigger_id can be exchanged once, within 3 s of the interaction
TRIGGER_RE = re.compile(r"\d+\.\d+\.[0-9a-f]+")
RESPONSE_URL_POSTS = 5  # a response_url takes 5 posts within 30 minutes of the interaction
RESPONSE_URL_SECONDS = 30 * 60.0
MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100

# The bot-token scopes each served method accepts (any one is enough), from the methods'
# reference pages. Methods that need none are listed with an empty tuple; the rest are unknown.
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "auth.test": (),
    "apps.connections.open": (),  # an app-level token's connections:write, not a bot scope
    "views.open": (),
    "views.push": (),
    "views.update": (),
    "views.publish": (),
    "chat.postMessage": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.delete": ("chat:write",),
    "chat.getPermalink": (),
    "conversations.open": ("channels:manage", "groups:write", "im:write", "mpim:write"),
    "conversations.info": ("channels:read", "groups:read", "im:read", "mpim:read"),
    "users.info": ("users:read",),
    "users.list": ("users:read",),
    "functions.completeSuccess": (),  # a workflow step's end: no scope needed
    "functions.completeError": (),
}
EMAIL_SCOPE = "users:read.email"  # without it Slack leaves `email` out of user profiles


def manifest_scopes(path: Path = ROOT / "manifest.yml") -> frozenset[str]:
    """The bot scopes the app's manifest asks for."""
    manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    return frozenset(manifest["oauth_config"]["scopes"]["bot"])


def scope_needed(method: str, granted: Iterable[str]) -> str | None:
    """The scope(s) `method` needs and `granted` lacks, comma-separated as Slack says; else None."""
    accepted = METHOD_SCOPES[method]
    if not accepted or set(accepted) & set(granted):
        return None
    return ",".join(accepted)


def view_problems(view: Any) -> list[str]:
    """Why Slack would refuse this view (an empty list when it would take it)."""
    if not isinstance(view, dict):
        return ["view must be a JSON object"]
    if not isinstance(view.get("blocks", []), list):
        return ["view blocks must be an array"]
    try:
        parsed = View(**view)
    except (TypeError, ValueError, SlackObjectFormationError) as exc:
        return [f"view: {exc}"]
    problems = ["a modal needs a title"] if view.get("type") == "modal" and not parsed.title else []
    _walk(parsed, view, "view", problems)
    blocks = view.get("blocks") or []
    if len(blocks) > VIEW_BLOCKS_MAX:
        problems.append(f"view has {len(blocks)} blocks; at most {VIEW_BLOCKS_MAX}")
    problems += _blocks(blocks, "view/blocks")
    return problems


def blocks_problems(blocks: Any, limit: int = MESSAGE_BLOCKS_MAX) -> list[str]:
    """Why Slack would refuse these message blocks (an empty list when it would take them)."""
    if not isinstance(blocks, list):
        return ["blocks must be an array"]
    problems = [f"{len(blocks)} blocks; at most {limit}"] if len(blocks) > limit else []
    return problems + _blocks(blocks, "blocks")


def _blocks(blocks: list[Any], where: str) -> list[str]:
    problems: list[str] = []
    for i, raw in enumerate(blocks):
        try:
            block = Block.parse(raw) if isinstance(raw, dict) else None
        except (TypeError, ValueError, SlackObjectFormationError) as exc:
            problems.append(f"{where}/{i}: {exc}")
            continue
        if block is None:
            problems.append(f"{where}/{i}: not a known block")
            continue
        _walk(block, raw, f"{where}/{i}", problems)
    return problems


def _walk(obj: JsonObject, raw: Any, where: str, problems: list[str]) -> None:
    """Validate obj and everything in it; fields slack_sdk does not know are refused too."""
    try:
        obj.validate_json()
    except SlackObjectFormationError as exc:
        problems.append(f"{where}: {exc}")
    if not isinstance(raw, dict):
        return
    known = set(obj.attributes) | {"type"}
    if isinstance(obj, View):
        # Echoed by Slack with every view; an app may send them back.
        known |= {"app_installed_team_id", "is_workflow_step"}
    unknown = sorted(set(raw) - known)
    if unknown:
        problems.append(f"{where}: unknown field(s) {', '.join(unknown)}")
    for name in obj.attributes:
        if isinstance(obj, View) and name in ("blocks", "state"):
            continue  # blocks are checked one by one; state is Slack's own
        value, raw_value = getattr(obj, name, None), raw.get(name)
        if raw_value is not None and value is None:
            problems.append(f"{where}/{name}: not understood")
        elif isinstance(value, JsonObject):
            _walk(value, raw_value, f"{where}/{name}", problems)
        elif isinstance(value, list | tuple):
            raw_items = raw_value if isinstance(raw_value, list) else []
            for i, item in enumerate(value):
                raw_item = raw_items[i] if i < len(raw_items) else None
                if item is None and raw_item is not None:
                    problems.append(f"{where}/{name}/{i}: not understood")
                elif isinstance(item, JsonObject):
                    _walk(item, raw_item, f"{where}/{name}/{i}", problems)
