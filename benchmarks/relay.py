"""The end-to-end floor: an app that makes the bot's hops for a submission and nothing else.

`python -m benchmarks.relay` reads the same variables as the bot (SLACK_SIGNING_SECRET,
SLACK_BOT_TOKEN, SLACK_API_URL, MAXCARE_API_URL, MAXCARE_API_KEY, MAXCARE_ORGANIZATION_ID, PORT)
plus RELAY_PROVIDER_ID. On a signed form submission it answers at once, then creates a task with
httpx and posts a card with slack_sdk in the submission's channel, as the bot does
(benchmarks/hops.py), with no Bolt, validation, storage, rate limit or retries, and with the
bot's garbage collector settings. The end-to-end phase times it like the bot: what it takes is
what this machine charges for the hops themselves (waking each idle process in turn), which
the bot cannot do without.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from benchmarks.bare_bolt import serve_app
from benchmarks.hops import Hops, slack_session


class Relay:
    """Submission in, task created, card posted."""

    def __init__(self, env: dict[str, str], session: aiohttp.ClientSession) -> None:
        self.verifier = SignatureVerifier(env["SLACK_SIGNING_SECRET"])
        self.hops = Hops(env, session)
        self.in_hand: set[asyncio.Task[None]] = set()

    async def events(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not self.verifier.is_valid_request(body, dict(request.headers)):
            return web.Response(status=401)
        payload = json.loads(parse_qs(body.decode())["payload"][0])
        task = asyncio.create_task(self.hops.create_and_confirm(payload["view"], update=False))
        self.in_hand.add(task)
        task.add_done_callback(self.in_hand.discard)
        return web.json_response({"response_action": "clear"})

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"in_hand": len(self.in_hand)})


def relay_app(relay: Relay) -> web.Application:
    """POST /slack/events and GET /healthz; the relay's clients close with the app."""
    app = web.Application()
    app.router.add_post("/slack/events", relay.events)
    app.router.add_get("/healthz", relay.healthz)

    async def close_clients(app: web.Application) -> None:
        await relay.hops.aclose()

    app.on_cleanup.append(close_clients)
    return app


async def serve() -> None:
    async with slack_session() as session:  # kept-alive Slack connections, as the bot
        app = relay_app(Relay(dict(os.environ), session))
        await serve_app(app, int(os.environ["PORT"]), gc_like_the_bot=True)


def main() -> int:
    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
