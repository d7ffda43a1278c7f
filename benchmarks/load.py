"""Closed-loop HTTP load: N workers keep N signed requests in flight until the list is done."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp

# (key, body, headers): the key ties a request to what the fakes record later
# (a slash command's trigger_id, a submission's unique channel).
Signed = tuple[str, str, dict[str, str]]


@dataclass(frozen=True)
class Sample:
    """One request: when it was sent and acknowledged (time.monotonic), and the answer."""

    key: str
    sent: float
    acked: float
    status: int
    body: bytes

    @property
    def ms(self) -> float:
        return (self.acked - self.sent) * 1000


async def closed_loop(
    url: str,
    requests: Sequence[Signed],
    concurrency: int,
    *,
    warmup: Sequence[Signed] = (),
    timeout: float = 300.0,
) -> list[Sample]:
    """POST every request with `concurrency` in flight (keep-alive connections, 10 s each).

    `warmup` goes first on the same connections and is not returned: opening `concurrency`
    connections at once would otherwise put connection set-up (and a listen backlog) in the
    figures. The workers run straight on from the warm-up into the measured requests, so the
    load is steady throughout: stopping in between would drain the server and then send
    `concurrency` requests in the same instant, a burst the figures would then measure instead.
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
                samples.append(Sample(key, sent, time.monotonic(), status, content))

    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
        workers = [asyncio.create_task(worker(session)) for _ in range(concurrency)]
        try:
            await asyncio.wait_for(asyncio.gather(*workers), timeout)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
    return samples


async def paced(
    url: str | Sequence[str],
    requests: Sequence[Signed],
    interval: float,
    *,
    timeout: float = 300.0,
) -> list[Sample]:
    """POST one request every `interval` seconds, one at a time (for unloaded end-to-end).

    `url` may be one per request: the single session keeps a keep-alive connection to each.
    """
    urls = [url] * len(requests) if isinstance(url, str) else list(url)
    samples: list[Sample] = []
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        for target, (key, body, headers) in zip(urls, requests, strict=True):
            if time.monotonic() > deadline:
                break
            sent = time.monotonic()
            try:
                async with session.post(target, data=body.encode(), headers=headers) as resp:
                    content, status = await resp.read(), resp.status
            except (aiohttp.ClientError, TimeoutError):
                content, status = b"", -1
            samples.append(Sample(key, sent, time.monotonic(), status, content))
            await asyncio.sleep(max(0.0, sent + interval - time.monotonic()))
    return samples
