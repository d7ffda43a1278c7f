"""The Slack Web API client, its keep-alive session, whom the token is for (or why not), and
which response_url hosts to trust."""

from __future__ import annotations

import socket
from base64 import b64encode
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot import tenancy
from bot.errors import NotReady
from bot.settings import Settings
from bot.slack.failures import describe, error_code

SLACK_HOOK_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")
SLACK_TIMEOUT_SECONDS = 10
# Idle keep-alive connections to Slack are closed after this long (aiohttp: 15 s).
SLACK_KEEPALIVE_SECONDS = 60.0
# Slack's answers to a token it will never accept: waiting cannot help, the token must change.
TOKEN_REFUSED = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)


@dataclass(frozen=True)
class Installation:
    """Whom the bot token belongs to: the one workspace this app serves."""

    team_id: str
    enterprise_id: str | None
    bot_user_id: str


def slack_client(
    settings: Settings,
    *,
    session: aiohttp.ClientSession | None = None,
    token: str | None = None,
) -> AsyncWebClient:
    """The Slack Web API client, retrying rate limits and connection errors.

    In many-workspace mode it has no token of its own: each request's comes from its
    installation (Bolt's authorize sets it on the request's copy of the client).
    """
    if token is None and settings.slack_bot_token is not None:
        token = settings.slack_bot_token.get_secret_value()
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=SLACK_TIMEOUT_SECONDS,
        session=session,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


class WorkspaceWebClient(AsyncWebClient):
    """A client without a token of its own: each call carries the bot token of the workspace
    being served (bot.tenancy), so the services built on one client serve every workspace.

    A call made while no workspace is served is refused, never sent with some other token.
    """

    async def api_call(  # type: ignore[override]
        self, api_method: str, *, headers: dict[str, str] | None = None, **kwargs: object
    ) -> AsyncSlackResponse:
        explicit = any(
            isinstance(part, dict) and "token" in part
            for part in (kwargs.get("params"), kwargs.get("data"), kwargs.get("json"))
        )
        auth = kwargs.pop("auth", None)
        if isinstance(auth, dict):  # oauth.v2.access authenticates the app, not a bot
            # Encoded here: slack_sdk would build aiohttp's BasicAuth, which aiohttp deprecates.
            pair = f"{auth['client_id']}:{auth['client_secret']}".encode()
            headers = {**(headers or {}), "Authorization": f"Basic {b64encode(pair).decode()}"}
        elif not explicit:  # a call given its own token keeps it
            workspace = tenancy.current()
            if workspace is None:
                raise RuntimeError(f"{api_method} called while serving no workspace")
            headers = {**(headers or {}), "Authorization": f"Bearer {workspace.bot_token}"}
        return await super().api_call(api_method, headers=headers, **kwargs)  # type: ignore[arg-type]


def workspace_client(settings: Settings) -> WorkspaceWebClient:
    """Many-workspace mode's one client: each call with the served workspace's token."""
    return WorkspaceWebClient(
        base_url=settings.slack_api_url,
        timeout=SLACK_TIMEOUT_SECONDS,
        session=keepalive_session(),
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


def keepalive_session() -> aiohttp.ClientSession:
    """One session for every Slack call of the running app (closed by Bot.close).

    slack_sdk otherwise opens (and TLS-handshakes) a new connection per call. No pool limit: a
    views.open must never queue behind other calls (its trigger expires in 3 s). Idle
    connections are kept a minute, not aiohttp's 15 s, so the pool grown for one burst of
    requests is still there for the next.
    """
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=SLACK_KEEPALIVE_SECONDS),
        timeout=aiohttp.ClientTimeout(total=SLACK_TIMEOUT_SECONDS),
    )


async def connect(settings: Settings) -> tuple[AsyncWebClient, Installation]:
    """The app's long-lived Slack client, and whom its token is for (auth.test).

    Raises NotReady (permanent when Slack refuses the token) instead of the client's errors.
    """
    session = keepalive_session()
    try:
        slack = slack_client(settings, session=session)
        auth = await slack.auth_test()
    except BaseException as exc:
        await session.close()
        if isinstance(exc, Exception):
            raise not_ready(exc, token="SLACK_BOT_TOKEN", url=settings.slack_api_url) from None
        raise
    installed = Installation(
        team_id=str(auth["team_id"]),
        enterprise_id=auth.get("enterprise_id") or None,
        bot_user_id=str(auth["user_id"]),
    )
    return slack, installed


def not_ready(exc: Exception, *, token: str, url: str) -> NotReady:
    """What a failed start-up call to Slack means: the token refused (permanent), or not now."""
    code = error_code(exc)
    if code in TOKEN_REFUSED:
        return NotReady("Slack", f"refused {token} ({code})", permanent=True)
    parts = urlsplit(url)
    # Scheme, host and port only: a URL's user part, path or query could carry anything.
    where = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", None)
        answer = code or (f"HTTP {status}" if isinstance(status, int) else describe(exc))
        return NotReady("Slack", f"at {where} answered {answer}", permanent=False)
    return NotReady("Slack", f"unreachable at {where} ({_unreachable(exc)})", permanent=False)


def _unreachable(exc: BaseException) -> str:
    """Why a request did not get an answer, in a few words (never the exception's text)."""
    cause: BaseException | None = exc
    for _ in range(5):  # the chain is short; a bound keeps a strange one from looping
        if cause is None:
            break
        if isinstance(cause, socket.gaierror):
            return "cannot resolve the host name"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, TimeoutError):
            return f"no answer within {SLACK_TIMEOUT_SECONDS} s"
        os_error = getattr(cause, "os_error", None)  # aiohttp's connector errors carry it
        cause = os_error if isinstance(os_error, BaseException) else cause.__cause__
    return type(exc).__name__


def response_url_checker(settings: Settings) -> Callable[[str], bool]:
    """True for URLs Slack hands out as response_url (or the configured Slack host)."""
    api = urlsplit(settings.slack_api_url)

    def ok(url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.hostname in SLACK_HOOK_HOSTS:
            return True
        return (parts.scheme, parts.netloc) == (api.scheme, api.netloc)

    return ok
