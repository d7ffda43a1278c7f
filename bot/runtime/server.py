"""The two transports, HTTP (aiohttp: /slack/events) and Socket Mode, both serving /healthz and
/metrics; start-up that waits for Slack and the database, and says why."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import cast

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.request.async_request import AsyncBoltRequest

from bot import tenancy
from bot.app import Bot, build_bot
from bot.errors import NotReady
from bot.ids import INSTALL_PATH, REDIRECT_PATH
from bot.maxcare import MaxCareClient
from bot.runtime.envelope import well_formed
from bot.runtime.startup import MaxCareCheck, unless_stopped, until_ready
from bot.settings import Settings
from bot.slack.client import not_ready

log = logging.getLogger("bot.server")

MAX_BODY = 1024 * 1024  # Slack payloads are far smaller; anything bigger is not Slack
EXIT_REFUSED = 2  # a service refused the app's configuration (as for a configuration error)
EXIT_CANNOT_LISTEN = 1


@dataclass
class Serving:
    """What the HTTP site serves: the bot once start-up is done, and what it waits for till then."""

    socket_mode: bool = False
    bot: Bot | None = None
    waiting_for: NotReady | None = None
    socket_ok: Callable[[], bool] = lambda: True


SERVING_KEY = web.AppKey("serving", Serving)


def web_app(
    bot: Bot | Serving, *, socket_ok: Callable[[], bool] | None = None
) -> web.Application:
    """The aiohttp application: Slack events (HTTP mode only), the health check, the metrics."""
    if isinstance(bot, Bot):
        ok = socket_ok or (lambda: True)
        bot = Serving(socket_mode=socket_ok is not None, bot=bot, socket_ok=ok)
    app = web.Application(client_max_size=MAX_BODY)
    app[SERVING_KEY] = bot
    if not bot.socket_mode:
        app.router.add_post("/slack/events", _events)
    # Many-workspace mode's install: "Add to Slack", and Slack's redirect back (else 404).
    app.router.add_get(INSTALL_PATH, _install)
    app.router.add_get(REDIRECT_PATH, _install)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    return app


def _not_ready() -> web.Response:
    # Slack retries a request that was not answered 200, so nothing is lost meanwhile.
    return web.Response(status=503, text="not ready")


async def _events(request: web.Request) -> web.Response:
    bot = request.app[SERVING_KEY].bot
    if bot is None:
        return _not_ready()
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
    started = time.perf_counter()
    try:
        with tenancy.isolated():  # the workspace a request is served as ends with it
            bolt_response = await bot.app.async_dispatch(bolt_request)
    finally:
        bot.metrics.slack_ack_seconds.observe(time.perf_counter() - started)
        bot.pressure.leave()
    return await to_aiohttp_response(bolt_response)


async def _install(request: web.Request) -> web.Response:
    bot = request.app[SERVING_KEY].bot
    flow = bot.app.oauth_flow if bot is not None else None
    if flow is None:
        return web.Response(status=404 if bot is not None else 503, text="not found")
    headers = cast(dict[str, str | Sequence[str]], request.headers)
    bolt_request = AsyncBoltRequest(body="", query=request.query_string, headers=headers)
    if request.path == INSTALL_PATH:
        answer = await flow.handle_installation(bolt_request)
    else:
        answer = await flow.handle_callback(bolt_request)
    return await to_aiohttp_response(answer)


def _is_json(request: AsyncBoltRequest, body: str) -> bool:
    # The same test Bolt's parse_body makes, so we validate what Bolt will read.
    return request.content_type == "application/json" or body.startswith("{")


async def _healthz(request: web.Request) -> web.Response:
    serving = request.app[SERVING_KEY]
    if serving.bot is None:
        waiting = serving.waiting_for
        reason = str(waiting) if waiting else "start-up"
        return web.json_response({"status": "not ready", "waiting_for": reason}, status=503)
    health = serving.bot.health()
    socket_ok = serving.socket_ok()
    body = {**health, "slack_socket": socket_ok}
    return web.json_response(body, status=200 if health["database"] and socket_ok else 503)


async def _metrics(request: web.Request) -> web.Response:
    bot = request.app[SERVING_KEY].bot
    if bot is None:
        return _not_ready()
    body, content_type = bot.metrics.render(request.headers.get("Accept", ""))
    return web.Response(body=body, headers={"Content-Type": content_type})


async def serve(settings: Settings, *, host: str | None = None) -> int:
    """Run until SIGTERM/SIGINT: HTTP mode on PORT, or Socket Mode (+ /healthz on PORT).

    The port answers from the start (/healthz 503 until ready) while start-up waits for Slack
    and the database. Returns the exit status: 0 once stopped; 2 when a service refused the
    app's credentials or the database's location is unusable; 1 when PORT is taken.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    serving = Serving(socket_mode=settings.socket_mode)
    runner = web.AppRunner(web_app(serving), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host or settings.bind_host, settings.port).start()
    except OSError as exc:
        log.error("cannot listen on port %d (%s); not starting", settings.port, exc.strerror)
        await runner.cleanup()
        return EXIT_CANNOT_LISTEN
    start = StartUp(settings, serving, stop)
    try:
        started = await start.run()
        if started is not None:
            bot, handler = started
            mode = "Socket Mode" if handler else "HTTP"
            log.info("ready in %s mode on port %d (team %s)", mode, settings.port, bot.team_id)
            await stop.wait()
            log.info("shutting down: no new work; finishing work in hand")
            await _shutdown(runner.cleanup, handler, bot)
        else:
            await runner.cleanup()
    finally:
        await start.close()
    return EXIT_REFUSED if start.refused else 0


class StartUp:
    """Builds the bot once Slack and the database answer, and checks MaxCare alongside."""

    def __init__(self, settings: Settings, serving: Serving, stop: asyncio.Event) -> None:
        self.settings = settings
        self.serving = serving
        self.stop = stop
        self.refused: NotReady | None = None
        self._check: asyncio.Task[None] | None = None
        self.maxcare: MaxCareCheck | None = None
        if settings.mode == "many":
            # Every MaxCare request is made as some workspace's organization, and none is known
            # before a workspace is connected: `/task connect` checks each one as it is made,
            # `python -m bot check` all of them.
            return
        # The check's own client stays quiet: the check says what matters in one line.
        quiet = logging.getLogger("bot.startup.maxcare_check")
        quiet.setLevel(logging.ERROR)
        check_client = MaxCareClient(
            base_url=settings.maxcare_api_url,
            api_key=settings.maxcare_api_key,
            organization_id=settings.maxcare_organization_id,
            timeout=settings.maxcare_timeout_seconds,
            max_attempts=1,  # the check retries on its own schedule
            log=quiet,
        )
        self.maxcare = MaxCareCheck(check_client, settings.maxcare_api_url, refused=self._refuse)
        self._check = asyncio.create_task(self.maxcare.run(), name="maxcare-check")

    def _refuse(self, problem: NotReady) -> None:
        if self.refused is None:
            log.error("%s; %s", problem, "stopping" if self.serving.bot else "not starting")
        self.refused = problem
        self.stop.set()

    def _waiting(self, problem: NotReady | None) -> None:
        self.serving.waiting_for = problem

    async def run(self) -> tuple[Bot, AsyncSocketModeHandler | None] | None:
        """The started bot and its socket handler; None when stopped or refused first."""
        bot: Bot | None = None
        handler: AsyncSocketModeHandler | None = None
        try:
            bot = await until_ready(
                lambda: build_bot(self.settings), stop=self.stop, waiting=self._waiting
            )
            if bot is not None and self.settings.socket_mode:
                ready = bot
                handler = await until_ready(
                    lambda: _connect_socket(ready, self.settings),
                    stop=self.stop,
                    waiting=self._waiting,
                )
            # MaxCare's first answer (or failure) comes before "ready", so a refused key
            # stops the app before it takes any request.
            if self.maxcare is not None:
                await unless_stopped(self.maxcare.answered.wait(), self.stop)
        except NotReady as problem:
            self._refuse(problem)
        incomplete = bot is None or (self.settings.socket_mode and handler is None)
        if self.stop.is_set() or incomplete:
            if handler is not None:
                await handler.close_async()
            if bot is not None:
                await bot.close(grace=0.0)
            return None
        assert bot is not None
        await bot.start()
        tune_gc()
        if handler is not None:
            self.serving.socket_ok = _socket_checker(handler)
        self.serving.bot = bot
        return bot, handler

    async def close(self) -> None:
        """Stop checking MaxCare (it goes on in the background while MaxCare has not answered)."""
        if self._check is not None:
            self._check.cancel()
            await asyncio.gather(self._check, return_exceptions=True)


async def _connect_socket(bot: Bot, settings: Settings) -> AsyncSocketModeHandler:
    """Socket Mode's handler, connected; NotReady when Slack refuses or cannot be reached."""
    assert settings.slack_app_token is not None
    token = settings.slack_app_token.get_secret_value()
    try:
        # Asked here first: the handler's own connect retries a refused token forever.
        opened = await bot.slack.apps_connections_open(app_token=token)
    except Exception as exc:
        raise not_ready(exc, token="SLACK_APP_TOKEN", url=settings.slack_api_url) from None
    handler = AsyncSocketModeHandler(bot.app, token)
    handler.client.wss_uri = str(opened["url"])
    await handler.connect_async()
    return handler


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
