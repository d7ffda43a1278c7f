"""Bare Bolt AsyncApps: the like-for-like baseline, and Bolt as it comes; served like the bot.

`python -m benchmarks.bare_bolt [--like-for-like]` reads SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET,
SLACK_API_URL and PORT (and, like-for-like, MAXCARE_API_URL, MAXCARE_API_KEY,
MAXCARE_ORGANIZATION_ID, RELAY_PROVIDER_ID), and serves POST /slack/events and GET /healthz on
127.0.0.1 with aiohttp and Bolt's aiohttp adapter, as the bot's server does (one process).

As it comes: process_before_response=False (each listener runs as a task and Bolt polls for
its ack every 10 ms), a command acks and opens a one-field modal, a submission only acks.

Like-for-like: the bot's choices around Bolt, with none of its code. It answers at the ack
(process_before_response=True, the work after the ack a task of its own, as the bot does: Bolt's
lazy listeners deep-copy each request, which a shared session cannot be), uses one kept-alive
Slack session, sets the garbage collector up as the bot's server does once ready, and does the
job: a command opens the modal; a submission answers with a "Creating…" modal update, then
creates the task in MaxCare, posts a card and updates the modal (benchmarks/hops.py), at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import Coroutine
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from benchmarks.hops import Hops, slack_session

ONE_FIELD_MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "create_task",
    "title": {"type": "plain_text", "text": "Create MaxCare task"},
    "submit": {"type": "plain_text", "text": "Create"},
    "blocks": [
        {
            "type": "input",
            "block_id": "notes",
            "label": {"type": "plain_text", "text": "Task"},
            "element": {"type": "plain_text_input", "action_id": "notes"},
        }
    ],
}
CREATING_MODAL: dict[str, Any] = {
    "type": "modal",
    "title": {"type": "plain_text", "text": "Create MaxCare task"},
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Creating the task…"}}],
}


def bare_app(
    *, like_for_like: bool = False, session: aiohttp.ClientSession | None = None
) -> web.Application:
    """The aiohttp application around a Bolt app with one command and one view listener.

    like_for_like needs `session` (one kept-alive Slack session, closed by the caller).
    """
    env = os.environ
    client = AsyncWebClient(
        token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_API_URL"], timeout=10, session=session
    )
    bolt = AsyncApp(
        client=client,
        signing_secret=env["SLACK_SIGNING_SECRET"],
        process_before_response=like_for_like,
    )

    async def open_modal(command: dict[str, Any], client: AsyncWebClient) -> None:
        await client.views_open(trigger_id=command["trigger_id"], view=ONE_FIELD_MODAL)

    async def just_ack(ack: AsyncAck) -> None:
        await ack()

    app = web.Application(client_max_size=1024 * 1024)
    running: set[asyncio.Task[None]] = set()  # asyncio keeps only weak references to tasks

    def later(work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        running.add(task)
        task.add_done_callback(running.discard)

    if like_for_like:
        assert session is not None, "like-for-like shares one Slack session"
        hops = Hops(env, session)

        @bolt.command(re.compile(r"^/"))
        async def command_now(
            ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient
        ) -> None:
            await ack()
            later(open_modal(command, client))

        @bolt.view(re.compile(r".*"))
        async def submission_now(ack: AsyncAck, body: dict[str, Any]) -> None:
            await ack(response_action="update", view=CREATING_MODAL)
            later(hops.create_and_confirm(body["view"]))

        async def close_hops(app: web.Application) -> None:
            await hops.aclose()

        app.on_cleanup.append(close_hops)
    else:

        @bolt.command(re.compile(r"^/"))
        async def command(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
            await ack()
            await open_modal(command, client)

        bolt.view(re.compile(r".*"))(just_ack)

    async def events(request: web.Request) -> web.Response:
        bolt_request = await to_bolt_request(request)
        bolt_response = await bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "in_hand": len(running)})

    app.router.add_post("/slack/events", events)
    app.router.add_get("/healthz", healthz)
    return app


def app_gc() -> None:
    """The bot's garbage collector settings (imported, so they stay the bot's own)."""
    from bot.runtime.server import tune_gc

    tune_gc()


async def serve_app(app: web.Application, port: int, *, gc_like_the_bot: bool = False) -> None:
    """Serve `app` on 127.0.0.1:port until SIGTERM/SIGINT (the relay is served this way too)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    if gc_like_the_bot:
        app_gc()  # where the bot does it: once serving, everything loaded frozen
    await stop.wait()
    await runner.cleanup()


async def serve(port: int, *, like_for_like: bool = False) -> None:
    """Serve a bare Bolt app on 127.0.0.1:port until SIGTERM/SIGINT."""
    if not like_for_like:
        await serve_app(bare_app(), port)
        return
    async with slack_session() as session:
        await serve_app(bare_app(like_for_like=True, session=session), port, gc_like_the_bot=True)


def main() -> int:
    """Entry point."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(int(os.environ["PORT"]), like_for_like="--like-for-like" in sys.argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
