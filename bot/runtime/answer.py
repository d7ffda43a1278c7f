"""Answer Slack the moment a listener acks, and let the listener carry on afterwards.

The app runs Bolt with process_before_response=True, so a listener's HTTP answer goes out when
the listener returns: no task per request and no 10 ms polling for the ack (Bolt's way in its
default mode). A listener with work after its ack (opening a modal, replying through
response_url, publishing Home) is decorated with `answer_at_ack`: it runs as a task of its own,
and Bolt answers as soon as it acks, or as soon as it ends or fails without acking (Bolt's error
handler then answers).

Why not Bolt's lazy listeners (`app.command(...)(ack=…, lazy=[…])`), the library's own way to
answer first and work after? Measured, they cost more on the path to the answer: before Bolt
returns it, each lazy function gets a deep copy of the request, re-parsed from the raw body, and
its arguments injected a second time. `python -m benchmarks.lazy_vs_answer --requests 3000`
dispatches the same listener both ways to in-process AsyncApps; lazy / answer_at_ack, medians of
one run (slack-bolt 1.30, a shared 2-core machine), and the ratio's range over three runs:

    slash command     until answered 0.280 / 0.090 ms (2.8-3.2x), CPU 0.375 / 0.132 ms (2.9-3.0x)
    click on a card   until answered 0.419 / 0.088 ms (3.8-4.8x), CPU 0.680 / 0.263 ms (2.3-2.6x)

They would also log a failure with its message (the text may be what a person typed), keep no
reference to their tasks (nothing to wait for at shutdown), and split each listener in two, both
halves parsing the same payload. Decision: no lazy listeners; `answer_at_ack` on every listener
with work after its ack, and none on those done by their answer (the form submission, the
provider picker, user_change events).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger("bot.listeners")

Listener = Callable[..., Coroutine[Any, Any, None]]

# asyncio keeps only weak references to tasks: these are the listeners still running.
_running: set[asyncio.Task[None]] = set()


def answer_at_ack(listener: Listener) -> Listener:
    """Run `listener` in its own task; return (so Bolt answers) once it has acked or ended.

    A listener without an `ack` argument (an event: Bolt acks those itself) returns at once.
    Failures after the answer are logged by type like the app's error handler does; failures
    before it are raised into Bolt, whose error handler logs them and answers with an error.
    """
    takes_ack = "ack" in inspect.signature(listener).parameters

    @functools.wraps(listener)  # Bolt injects arguments by the wrapped listener's names
    async def run(*args: Any, **kwargs: Any) -> None:
        # `args` is a bound method's instance; Bolt passes everything else by name.
        # Resolved by the ack ("acked") or by the listener's end before one ("ended"): the
        # request wakes one turn of the event loop after the ack (under load every hop between
        # tasks shows in the answer's latency, so there is no other).
        answered: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        if takes_ack:
            ack = kwargs["ack"]

            async def ack_and_answer(*ack_args: Any, **ack_kwargs: Any) -> Any:
                try:
                    return await ack(*ack_args, **ack_kwargs)
                finally:
                    if not answered.done():
                        answered.set_result("acked")

            kwargs["ack"] = ack_and_answer
        else:
            answered.set_result("acked")  # nothing to wait for
        task = asyncio.create_task(
            listener(*args, **kwargs), name=f"listener:{listener.__name__}"
        )
        _running.add(task)
        task.add_done_callback(functools.partial(_finished, answered=answered))
        # Cancelled here, `answered` is cancelled too: a later failure is then logged.
        if await answered == "ended":
            task.result()  # a failure before the ack goes to Bolt's error handler

    return run


def _finished(task: asyncio.Task[None], *, answered: asyncio.Future[str]) -> None:
    _running.discard(task)
    if not answered.done():  # ended without acking: the waiting request takes it from here
        answered.set_result("ended")
        return
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        # Names only: an exception's text may carry what a person typed.
        log.error("unhandled %s in a listener after its ack", type(error).__name__)


async def settle(timeout: float | None = None) -> None:
    """Wait for listeners still running after their answer, at most `timeout` seconds."""
    loop = asyncio.get_running_loop()
    running = [task for task in _running if task.get_loop() is loop]
    if running:
        await asyncio.wait(running, timeout=timeout)
