"""The floor: a bare Bolt AsyncApp that only acks and opens a one-field modal, served like the bot.

`python -m benchmarks.bare_bolt` reads SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_API_URL and
PORT, and serves POST /slack/events and GET /healthz on 127.0.0.1 with aiohttp and Bolt's aiohttp
adapter, as bot/server.py does (one process). By default Bolt is left as it comes
(process_before_response=False: each listener runs as a task and Bolt polls for its ack every
10 ms): the floor issue 7 names. `--inline` answers like the bot does (process_before_response=True;
the modal is opened by a Bolt lazy listener after the answer): the like-for-like reference.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

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


def bare_app(*, inline: bool = False) -> web.Application:
    """The aiohttp application around a Bolt app with one command and one view listener."""
    client = AsyncWebClient(
        token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"], timeout=10
    )
    bolt = AsyncApp(
        client=client,
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        process_before_response=inline,
    )

    async def open_modal(command: dict[str, Any], client: AsyncWebClient) -> None:
        await client.views_open(trigger_id=command["trigger_id"], view=ONE_FIELD_MODAL)

    if inline:

        async def ack_command(ack: AsyncAck) -> None:
            await ack()

        bolt.command(re.compile(r"^/"))(ack=ack_command, lazy=[open_modal])
    else:

        @bolt.command(re.compile(r"^/"))
        async def command(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
            await ack()
            await open_modal(command, client)

    @bolt.view(re.compile(r".*"))
    async def submission(ack: AsyncAck) -> None:
        await ack()

    async def events(request: web.Request) -> web.Response:
        bolt_request = await to_bolt_request(request)
        bolt_response = await bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/slack/events", events)
    app.router.add_get("/healthz", healthz)
    return app


async def serve_app(app: web.Application, port: int) -> None:
    """Serve `app` on 127.0.0.1:port until SIGTERM/SIGINT (the relay is served this way too)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await stop.wait()
    await runner.cleanup()


async def serve(port: int, *, inline: bool = False) -> None:
    """Serve bare Bolt on 127.0.0.1:port until SIGTERM/SIGINT."""
    await serve_app(bare_app(inline=inline), port)


def main() -> int:
    """Entry point."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(int(os.environ["PORT"]), inline="--inline" in sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
