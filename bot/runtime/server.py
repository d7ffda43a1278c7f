"""The two transports: HTTP (aiohttp, POST /slack/events) and Socket Mode; both serve /healthz."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import cast

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.app import Bot, build_bot
from bot.runtime.envelope import well_formed
from bot.settings import Settings

log = logging.getLogger("bot.server")

MAX_BODY = 1024 * 1024  # Slack payloads are far smaller; anything bigger is not Slack
BOT_KEY = web.AppKey("bot", Bot)
HEALTH_KEY: web.AppKey[Callable[[], bool]] = web.AppKey("socket_ok")


def web_app(bot: Bot, *, socket_ok: Callable[[], bool] | None = None) -> web.Application:
    """The aiohttp application: Slack events (HTTP mode only) and the health check."""
    app = web.Application(client_max_size=MAX_BODY)
    app[BOT_KEY] = bot
    app[HEALTH_KEY] = socket_ok or (lambda: True)
    if socket_ok is None:
        app.router.add_post("/slack/events", _events)
    app.router.add_get("/healthz", _healthz)
    return app


async def _events(request: web.Request) -> web.Response:
    bot = request.app[BOT_KEY]
    raw = await request.read()
    # Bolt reads any mapping of str to str (its aiohttp adapter passes these headers as they are).
    headers = cast(dict[str, str | Sequence[str]], request.headers)
    try:
        body = raw.decode("utf-8")
        bolt_request = AsyncBoltRequest(body=body, query=request.query_string, headers=headers)
        shaped = well_formed(bolt_request.body, is_json=_is_json(bolt_request, body))
    except Exception:  # Bolt's parser trusts the shape: junk can raise anything here
        shaped = False
    if not shaped:
        # Bolt parses (and trusts the shape of) a body before verifying it: stop junk here.
        signed = bot.verifier is not None and bot.verifier.is_valid_request(
            raw, dict(request.headers)
        )
        log.warning("malformed request refused (%s)", "signed" if signed else "unsigned")
        return web.Response(status=400 if signed else 401, text="invalid request body")
    bot.pressure.enter()
    try:
        bolt_response = await bot.app.async_dispatch(bolt_request)
    finally:
        bot.pressure.leave()
    return await to_aiohttp_response(bolt_response)


def _is_json(request: AsyncBoltRequest, body: str) -> bool:
    # The same test Bolt's parse_body makes, so we validate what Bolt will read.
    return request.content_type == "application/json" or body.startswith("{")


async def _healthz(request: web.Request) -> web.Response:
    health = request.app[BOT_KEY].health()
    socket_ok = request.app[HEALTH_KEY]()
    body = {**health, "slack_socket": socket_ok}
    return web.json_response(body, status=200 if health["database"] and socket_ok else 503)


async def serve(settings: Settings, *, host: str | None = None) -> None:
    """Run until SIGTERM/SIGINT: HTTP mode on PORT, or Socket Mode (+ /healthz on PORT)."""
    bot = await build_bot(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    handler: AsyncSocketModeHandler | None = None
    socket_ok: Callable[[], bool] | None = None
    if settings.socket_mode:
        assert settings.slack_app_token is not None
        handler = AsyncSocketModeHandler(bot.app, settings.slack_app_token.get_secret_value())
        await handler.connect_async()
        socket_ok = _socket_checker(handler)
    runner = web.AppRunner(web_app(bot, socket_ok=socket_ok), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host or settings.bind_host, settings.port)
    await site.start()
    await bot.start()
    tune_gc()
    mode = "Socket Mode" if handler else "HTTP"
    log.info("ready in %s mode on port %d (team %s)", mode, settings.port, bot.team_id)
    await stop.wait()
    log.info("shutting down: no new work; finishing work in hand")
    await _shutdown(runner.cleanup, handler, bot)


# Young objects collected every this many allocations (CPython's default is 700).
GC_YOUNG_THRESHOLD = 10_000


def tune_gc() -> None:
    """Keep the cyclic garbage collector off the ack path.

    Everything loaded at start-up (Bolt, slack_sdk, pydantic, httpx: most of the heap) lives as
    long as the process, yet every full collection walked it again: tens of milliseconds each,
    paid by whichever request was being answered. Frozen, it is never walked again. A larger
    young generation means fewer collections for the short-lived objects of each request; the
    memory held back by that is a few megabytes at most.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def _socket_checker(handler: AsyncSocketModeHandler) -> Callable[[], bool]:
    def connected() -> bool:
        session = getattr(handler.client, "current_session", None)
        return session is not None and not session.closed

    return connected


async def _shutdown(
    cleanup: Callable[[], Awaitable[None]], handler: AsyncSocketModeHandler | None, bot: Bot
) -> None:
    if handler is not None:
        await handler.close_async()
    await cleanup()
    await bot.close(grace=20.0)
    log.info("stopped")
