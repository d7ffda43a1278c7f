"""FakeSlack's other workspaces: Slack's OAuth install (the authorize page, `oauth.v2.access`,
token rotation) and the bot token each installation gets, so calls are answered per token.

The workspace the fake starts with (FakeSlack.team_id, FakeSlack.token) is the single-workspace
app's. `add_workspace` adds more; a test plays the browser on Slack's authorize page with
`approve(authorize_url, team_id, user_id)`, which checks the URL as Slack does and returns the
code and state Slack would redirect with. `oauth.v2.access` then exchanges the code (client ID
and secret checked, as HTTP Basic or as parameters) for that workspace's bot token.
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

AUTHORIZE_URL = "https://slack.com/oauth/v2/authorize"
CODE_SECONDS = 600.0  # an authorization code is good for 10 minutes, once
ROTATED_TOKEN_SECONDS = 43_200  # 12 hours, as Slack's rotated tokens last


@dataclass
class Workspace:
    """One workspace (or, with is_enterprise_install, one Enterprise Grid organization)."""

    team_id: str
    team_name: str
    bot_user_id: str
    bot_id: str
    enterprise_id: str | None = None
    enterprise_name: str | None = None
    is_enterprise_install: bool = False
    tokens: dict[str, float] = field(default_factory=dict)  # live bot token -> expires at
    refresh_tokens: set[str] = field(default_factory=set)  # unused refresh tokens
    installs: int = 0

    @property
    def token(self) -> str | None:
        """The newest live bot token, if the app is installed here."""
        return next(reversed(self.tokens), None) if self.tokens else None


@dataclass
class _Code:
    team_id: str
    user_id: str
    scopes: str
    redirect_uri: str | None
    expires_at: float


class SlackOAuth:
    """The workspaces part of FakeSlack (a mixin: FakeSlack holds the lock and the clock)."""

    client_id = "1111111111.2222222222"
    client_secret = "fake-client-secret"
    token_rotation = False  # when True, bot tokens expire and come with refresh tokens
    _lock: threading.Lock
    clock: Callable[[], float]

    def _init_oauth(self) -> None:
        self._workspaces: dict[str, Workspace] = {}
        self._codes: dict[str, _Code] = {}

    def add_workspace(
        self,
        team_id: str,
        team_name: str,
        *,
        enterprise_id: str | None = None,
        enterprise_name: str | None = None,
        is_enterprise_install: bool = False,
    ) -> Workspace:
        """A workspace the app can be installed in (not installed yet: no token)."""
        suffix = team_id.removeprefix("T").removeprefix("E")
        workspace = Workspace(
            team_id, team_name, bot_user_id=f"UBOT{suffix}", bot_id=f"BBOT{suffix}",
            enterprise_id=enterprise_id, enterprise_name=enterprise_name,
            is_enterprise_install=is_enterprise_install,
        )  # fmt: skip
        with self._lock:
            self._workspaces[team_id] = workspace
        return workspace

    def workspace(self, team_id: str) -> Workspace:
        with self._lock:
            return self._workspaces[team_id]

    def approve(self, authorize_url: str, team_id: str, user_id: str) -> tuple[str, str]:
        """The installer approves on Slack's authorize page: (code, state) for the redirect.

        Refuses (AssertionError) what Slack's page would: another host, the wrong client ID,
        no bot scopes, no state."""
        parts = urlsplit(authorize_url)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == AUTHORIZE_URL, authorize_url
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert query.get("client_id") == self.client_id, "unknown client_id"
        assert query.get("scope"), "no bot scopes asked for"
        assert query.get("state"), "no state"
        code = f"code-{secrets.token_hex(8)}"
        with self._lock:
            assert team_id in self._workspaces, f"no workspace {team_id}"
            self._codes[code] = _Code(
                team_id, user_id, query["scope"], query.get("redirect_uri"),
                self.clock() + CODE_SECONDS,
            )  # fmt: skip
        return code, query["state"]

    def token_for(self, team_id: str) -> str:
        """A new live bot token of the workspace, as an install gives one (for command-line
        tests, which store installations without a browser)."""
        return str(self.issue(team_id)["access_token"])

    def issue(self, team_id: str) -> dict[str, Any]:
        """oauth.v2.access's answer for an install of the workspace (with a refresh token
        when token_rotation is on), without the browser."""
        return self._issue(self.workspace(team_id))

    def revoke(self, team_id: str) -> None:
        """The app is uninstalled (or its tokens revoked): every token of the workspace dies."""
        with self._lock:
            workspace = self._workspaces[team_id]
            workspace.tokens.clear()
            workspace.refresh_tokens.clear()

    def workspace_of(self, token: Any) -> Workspace | None:
        """The workspace a live bot token belongs to (None: unknown, revoked or expired)."""
        if not isinstance(token, str):
            return None
        now = self.clock()
        with self._lock:
            for workspace in self._workspaces.values():
                expires = workspace.tokens.get(token)
                if expires is not None and expires > now:
                    return workspace
        return None

    def token_expired(self, token: Any) -> bool:
        now = self.clock()
        with self._lock:
            return any(
                (e := w.tokens.get(token)) is not None and e <= now
                for w in self._workspaces.values()
            )

    def _answer_oauth_access(self, params: dict[str, Any], authorization: str) -> dict[str, Any]:
        client_id, client_secret = _client(params, authorization)
        if client_id != self.client_id:
            return {"ok": False, "error": "invalid_client_id"}
        if client_secret != self.client_secret:
            return {"ok": False, "error": "bad_client_secret"}
        if params.get("grant_type") == "refresh_token":
            return self._refresh(str(params.get("refresh_token") or ""))
        with self._lock:
            code = self._codes.pop(str(params.get("code") or ""), None)
        if code is None or code.expires_at <= self.clock():
            return {"ok": False, "error": "invalid_code"}
        if code.redirect_uri is not None and params.get("redirect_uri") != code.redirect_uri:
            return {"ok": False, "error": "bad_redirect_uri"}
        workspace = self.workspace(code.team_id)
        with self._lock:
            workspace.installs += 1
        answer = self._issue(workspace)
        answer.update(
            scope=code.scopes,
            app_id="A0FAKEAPP",
            authed_user={"id": code.user_id},
        )
        return answer

    def _refresh(self, refresh_token: str) -> dict[str, Any]:
        with self._lock:
            found = next(
                (w for w in self._workspaces.values() if refresh_token in w.refresh_tokens), None
            )
            if found is not None:
                found.refresh_tokens.discard(refresh_token)
        if found is None:
            return {"ok": False, "error": "invalid_refresh_token"}
        return self._issue(found)

    def _issue(self, workspace: Workspace) -> dict[str, Any]:
        rotating = self.token_rotation
        prefix = "xoxe.xoxb-1-" if rotating else "xoxb-"
        token = f"{prefix}{workspace.team_id}-{secrets.token_hex(6)}"
        lifetime = ROTATED_TOKEN_SECONDS if rotating else float("inf")
        answer: dict[str, Any] = {
            "ok": True,
            "access_token": token,
            "token_type": "bot",
            "bot_user_id": workspace.bot_user_id,
            "team": None if workspace.is_enterprise_install else {
                "id": workspace.team_id, "name": workspace.team_name,
            },
            "enterprise": {"id": workspace.enterprise_id, "name": workspace.enterprise_name}
            if workspace.enterprise_id else None,
            "is_enterprise_install": workspace.is_enterprise_install,
        }  # fmt: skip
        with self._lock:
            workspace.tokens[token] = self.clock() + lifetime
            if rotating:
                refresh = f"xoxe-1-{secrets.token_hex(8)}"
                workspace.refresh_tokens.add(refresh)
                answer.update(refresh_token=refresh, expires_in=ROTATED_TOKEN_SECONDS)
        return answer

    def expire_tokens(self, team_id: str) -> None:
        """Every bot token of the workspace expires now (rotation must refresh it)."""
        now = self.clock()
        with self._lock:
            workspace = self._workspaces[team_id]
            for token in workspace.tokens:
                workspace.tokens[token] = min(workspace.tokens[token], now)


def _client(params: dict[str, Any], authorization: str) -> tuple[str | None, str | None]:
    """The client ID and secret: HTTP Basic (slack_sdk's way) or form parameters."""
    if authorization.startswith("Basic "):
        try:
            raw = base64.b64decode(authorization.removeprefix("Basic ")).decode()
        except ValueError:
            return None, None
        client_id, _, secret = raw.partition(":")
        return client_id, secret
    return params.get("client_id"), params.get("client_secret")
