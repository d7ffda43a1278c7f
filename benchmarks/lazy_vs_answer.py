"""Bolt's lazy listeners against answer_at_ack: the same listener dispatched both ways, in-process.

`python -m benchmarks.lazy_vs_answer [--requests 3000]` builds two AsyncApps the way bot/app.py
does (process_before_response=True, the signing secret, a token checked once with auth.test on a
local FakeSlack), one with each listener registered as `ack=…, lazy=[…]` and one with the same
listener decorated with `answer_at_ack`. It dispatches signed requests (a slash command and a
click on a card-sized message) to both apps in alternating rounds and prints, per kind, the median
time until Bolt returns the answer, the median time until the work after the ack has run too, and
the CPU time per request, with the ratio lazy / answer_at_ack for each.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime.answer import answer_at_ack
from tests.support import payloads
from tests.support.fakes import FakeSlack

Work = Callable[[dict[str, Any]], Awaitable[None]]


def card_message() -> dict[str, Any]:
    """A message about the size of a task card (a dozen blocks)."""
    blocks = [
        {"type": "section", "block_id": f"b{n}",
         "text": {"type": "mrkdwn", "text": f"*Field {n}*: " + "words of a task card " * 6}}
        for n in range(12)
    ]
    return {"type": "message", "ts": "1700000000.000100", "text": "card", "blocks": blocks}


def build_app(client: AsyncWebClient, *, lazy: bool, work: Work) -> AsyncApp:
    """One app with a slash command and a button, answered lazily or with answer_at_ack."""
    app = AsyncApp(
        client=client,
        signing_secret=payloads.SIGNING_SECRET,
        process_before_response=True,
        raise_error_for_unhandled_request=False,
    )
    if lazy:

        async def acknowledge(ack: AsyncAck) -> None:
            await ack()

        async def command_work(command: dict[str, Any]) -> None:
            await work(command)

        async def click_work(body: dict[str, Any]) -> None:
            await work(body)

        app.command("/task")(ack=acknowledge, lazy=[command_work])
        app.action("refresh")(ack=acknowledge, lazy=[click_work])
    else:

        @answer_at_ack
        async def on_command(ack: AsyncAck, command: dict[str, Any]) -> None:
            await ack()
            await work(command)

        @answer_at_ack
        async def on_click(ack: AsyncAck, body: dict[str, Any]) -> None:
            await ack()
            await work(body)

        app.command("/task")(on_command)
        app.action("refresh")(on_click)
    return app


def signed(kind: str) -> payloads.Signed:
    """A fresh signed request of one kind."""
    if kind == "command":
        return payloads.slash_command("status tsk_0123456789abcdef0123456789abcdef")
    button = {"type": "button", "action_id": "refresh", "block_id": "b", "value": "v"}
    return payloads.block_actions([button], channel_id="C0GENERAL", message=card_message())


async def measure(
    app: AsyncApp, kind: str, count: int, done: asyncio.Queue[float]
) -> tuple[list[float], list[float], float]:
    """(ms until answered, ms until the work after the ack ran, CPU ms per request)."""
    bodies = [signed(kind) for _ in range(count)]
    answered, finished = [], []
    cpu = time.process_time()
    for body, headers in bodies:
        request = AsyncBoltRequest(body=body, headers=headers)
        started = time.perf_counter()
        response = await app.async_dispatch(request)
        answered.append((time.perf_counter() - started) * 1000)
        assert response.status == 200, response.body
        finished.append((await done.get() - started) * 1000)
    return answered, finished, (time.process_time() - cpu) * 1000 / count


async def compare(
    requests: int, rounds: int = 10, warmup: int = 200
) -> dict[str, dict[str, float]]:
    """Both apps on the same requests, rounds alternating so drift falls on both alike."""
    done: asyncio.Queue[float] = asyncio.Queue()

    async def work(payload: dict[str, Any]) -> None:
        assert payload  # the listener got its argument
        done.put_nowait(time.perf_counter())

    results: dict[str, dict[str, float]] = {}
    with FakeSlack() as slack:
        client = AsyncWebClient(token=slack.token, base_url=slack.api_url)
        apps = {name: build_app(client, lazy=name == "lazy", work=work)
                for name in ("lazy", "answer")}
        for kind in ("command", "click"):
            for app in apps.values():
                await measure(app, kind, warmup, done)  # warm-up (and the one auth.test)
            samples: dict[str, tuple[list[float], list[float], list[float]]] = {
                name: ([], [], []) for name in apps
            }
            for _ in range(rounds):
                for name, app in apps.items():
                    answered, finished, cpu = await measure(app, kind, requests // rounds, done)
                    samples[name][0].extend(answered)
                    samples[name][1].extend(finished)
                    samples[name][2].append(cpu)
            for name, (answered, finished, cpu) in samples.items():
                results[f"{kind}/{name}"] = {
                    "answered_ms": statistics.median(answered),
                    "finished_ms": statistics.median(finished),
                    "cpu_ms": statistics.median(cpu),
                }
    return results


def report(results: dict[str, dict[str, float]]) -> str:
    """One line per kind and figure: lazy, answer_at_ack, and their ratio."""
    lines = [f"{'':24}{'lazy':>10}{'answer':>10}{'ratio':>8}"]
    for kind in ("command", "click"):
        lazy, answer = results[f"{kind}/lazy"], results[f"{kind}/answer"]
        for figure in ("answered_ms", "finished_ms", "cpu_ms"):
            ratio = lazy[figure] / answer[figure]
            lines.append(
                f"{kind + ' ' + figure:24}{lazy[figure]:10.3f}{answer[figure]:10.3f}{ratio:8.2f}"
            )
    return "\n".join(lines)


def main() -> None:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="per app and kind")
    args = parser.parse_args()
    print(report(asyncio.run(compare(args.requests))))


if __name__ == "__main__":
    main()
