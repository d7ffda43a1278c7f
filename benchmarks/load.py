"""HTTP load: open loop (arrivals on a schedule, timed from it) and closed loop (N in flight)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp

# (key, body, headers): the key ties a request to what the fakes record later
# (a slash command's trigger_id, a submission's unique channel).
Signed = tuple[str, str, dict[str, str]]
# Slack shows the person an error when an ack takes longer than this.
SLACK_ACK_SECONDS = 3.0


@dataclass(frozen=True)
class Sample:
    """One request (time.monotonic): due (the schedule), actually sent, answered; the answer.

    Latency counts from `due`: when the server stalls, later arrivals still arrive on time in
    the real world and their wait is part of what they see. A closed loop has no schedule:
    there `due` is the send.
    """

    key: str
    due: float
    acked: float
    status: int
    body: bytes
    sent: float = 0.0

    @property
    def ms(self) -> float:
        """Due → answered, in milliseconds."""
        return (self.acked - self.due) * 1000

    @property
    def lag_ms(self) -> float:
        """How late the load generator sent it (its own delay, charged to the server)."""
        return max(0.0, (self.sent - self.due) * 1000) if self.sent else 0.0

    @property
    def answered(self) -> bool:
        """An HTTP answer came within Slack's ack deadline."""
        return self.status > 0 and self.ms <= SLACK_ACK_SECONDS * 1000


def fixed_times(count: int, rate: float) -> list[float]:
    """Offsets (seconds) of `count` arrivals exactly 1/rate apart."""
    return [i / rate for i in range(count)]


def poisson_times(count: int, rate: float, seed: int) -> list[float]:
    """Offsets (seconds) of `count` Poisson arrivals at `rate` a second (the same for a seed)."""
    rng = random.Random(seed)
    t, out = 0.0, []
    for _ in range(count):
        out.append(t)
        t += rng.expovariate(rate)
    return out


async def open_loop(
    url: str | Sequence[str],
    requests: Sequence[Signed],
    offsets: Sequence[float],
    *,
    timeout: float = 300.0,
    request_timeout: float = 10.0,
) -> list[Sample]:
    """POST each request at its offset from the start, whatever the earlier ones are doing.

    Nothing is warmed up: connections are opened as the schedule needs them (no limit), as a
    server meets them. `url` may be one per request. Every request is returned, answered or
    not (status -1: no answer within `request_timeout`).
    """
    urls = [url] * len(requests) if isinstance(url, str) else list(url)
    encoded = [(k, b.encode(), h) for k, b, h in requests]
    samples: list[Sample] = []
    connector = aiohttp.TCPConnector(limit=0)
    client_timeout = aiohttp.ClientTimeout(total=request_timeout)

    async def send(
        session: aiohttp.ClientSession,
        target: str,
        req: tuple[str, bytes, dict[str, str]],
        due: float,
    ) -> None:
        key, body, headers = req
        sent = time.monotonic()
        try:
            async with session.post(target, data=body, headers=headers) as resp:
                content, status = await resp.read(), resp.status
        except (aiohttp.ClientError, TimeoutError):
            content, status = b"", -1
        samples.append(Sample(key, due, time.monotonic(), status, content, sent))

    async def schedule(session: aiohttp.ClientSession) -> None:
        tasks = []
        start = time.monotonic() + 0.05
        for target, req, offset in zip(urls, encoded, offsets, strict=True):
            due = start + offset
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(send(session, target, req, due)))
        await asyncio.gather(*tasks)

    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
        with contextlib.suppress(TimeoutError):  # what is missing then counts as failed
            await asyncio.wait_for(schedule(session), timeout)
    return samples


async def closed_loop(
    url: str,
    requests: Sequence[Signed],
    concurrency: int,
    *,
    warmup: Sequence[Signed] = (),
    timeout: float = 300.0,
) -> list[Sample]:
    """POST every request with `concurrency` in flight (keep-alive connections, 10 s each).

    Used to send a burst as fast as the server takes it, not to time acks (a closed loop sends
    less while the server stalls, so it under-reports the tail). `warmup` goes first on the
    same connections and is not returned; the workers run straight on into the measured ones.
    """
    samples: list[Sample] = []
    first_measured = len(warmup)
    # One iterator shared by every worker: each request goes to one of them, in order.
    queue = iter(enumerate([*warmup, *requests]))
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    client_timeout = aiohttp.ClientTimeout(total=10)

    async def worker(session: aiohttp.ClientSession) -> None:
        for index, (key, body, headers) in queue:
            sent = time.monotonic()
            try:
                async with session.post(url, data=body.encode(), headers=headers) as resp:
                    content = await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError):
                content, status = b"", -1
            if index >= first_measured:
                samples.append(Sample(key, sent, time.monotonic(), status, content, sent))

    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
        workers = [asyncio.create_task(worker(session)) for _ in range(concurrency)]
        try:
            await asyncio.wait_for(asyncio.gather(*workers), timeout)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
    return samples
