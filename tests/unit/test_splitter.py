"""The benchmark's round-robin splitter (benchmarks/splitter.py), against real local servers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web

from benchmarks.procs import ROOT, clean_env, free_port
from benchmarks.splitter import Incomplete, Message, Splitter, read_message

Seen = tuple[str, list[tuple[bytes, bytes]], bytes]  # backend, raw headers, body
RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def echo_backend(name: str, seen: list[Seen]) -> AsyncIterator[str]:
    """An aiohttp server that records each request's raw headers and body, and says its name."""

    async def handler(request: web.Request) -> web.Response:
        seen.append((name, list(request.raw_headers), await request.read()))
        return web.Response(text=name)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def raw_backend(handler: RawHandler) -> AsyncIterator[str]:
    """A bare TCP server on 127.0.0.1 whose every connection `handler` serves."""
    serving: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        serving.add(task)
        try:
            await handler(reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for task in serving:
            task.cancel()
        await asyncio.gather(*serving, return_exceptions=True)
        await server.wait_closed()


@asynccontextmanager
async def splitter(*backends: str) -> AsyncIterator[Splitter]:
    s = Splitter(list(backends))
    await s.start()
    try:
        yield s
    finally:
        await s.close()


async def exchange(port: int, raw: bytes) -> Message:
    """Send one raw request on a new connection; the answer read back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    try:
        answer = await asyncio.wait_for(read_message(reader, response_to=raw.split(b" ")[0]), 10)
    finally:
        writer.close()
        await writer.wait_closed()
    assert answer is not None
    return answer


def closed_port() -> str:
    return f"127.0.0.1:{free_port()}"  # free a moment ago: nothing listens there


# --- reading messages ------------------------------------------------------------------------


def _reader(data: bytes, eof: bool = True) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    return reader


async def test_a_message_is_kept_as_it_came_length_or_chunks() -> None:
    head = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"
    msg = await read_message(_reader(head + b"hello" + b"GET / HTTP/1.1\r\n\r\n"))
    assert msg is not None and msg.raw() == head + b"hello"

    chunked = b"POST /y HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    body = b"5;ext=1\r\nhello\r\n0\r\nTrailer: t\r\n\r\n"
    msg = await read_message(_reader(chunked + body))
    assert msg is not None and msg.body == body and not msg.closes()


async def test_a_clean_end_is_none_and_a_cut_message_is_incomplete() -> None:
    assert await read_message(_reader(b"")) is None
    with pytest.raises(Incomplete):
        await read_message(_reader(b"POST / HTTP/1.1\r\n"))
    with pytest.raises(Incomplete):
        await read_message(_reader(b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc"))


async def test_responses_without_a_body_and_without_framing() -> None:
    no_body = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
    msg = await read_message(_reader(no_body + b"junk"), response_to=b"POST")
    assert msg is not None and msg.body == b""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n"
    msg = await read_message(_reader(head), response_to=b"HEAD")
    assert msg is not None and msg.body == b"", "a HEAD answer has no body whatever it says"
    unframed = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nto the end"
    msg = await read_message(_reader(unframed), response_to=b"GET")
    assert msg is not None and msg.body == b"to the end"
    assert msg.closes(), "only closing the connection can end such a body for the client"
    old = b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"
    msg = await read_message(_reader(old), response_to=b"GET")
    assert msg is not None and msg.closes()


# --- forwarding ------------------------------------------------------------------------------


async def test_requests_take_turns_and_arrive_byte_for_byte() -> None:
    seen: list[Seen] = []
    async with (
        echo_backend("a", seen) as a,
        echo_backend("b", seen) as b,
        echo_backend("c", seen) as c,
        splitter(a, b, c) as s,
        aiohttp.ClientSession() as http,
    ):
        url = f"http://127.0.0.1:{s.port}/slack/events"
        answers = []
        for i in range(6):  # one keep-alive client connection: each request still takes turns
            async with http.post(url, data=f"body {i}".encode()) as resp:
                answers.append(await resp.text())
        # Headers in their order and case (a signature covers the body, a proxy must not touch it)
        raw = (
            b"POST /slack/events HTTP/1.1\r\nHost: x\r\nX-Slack-Signature: v0=ab\r\n"
            b"x-slack-request-timestamp: 1\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n4\r\nbody\r\n0\r\n\r\n"
        )
        answer = await exchange(s.port, raw)
        async with http.get(f"http://127.0.0.1:{s.port}/_splitter/counts") as resp:
            counts = await resp.json()
    assert answers == ["a", "b", "c", "a", "b", "c"]
    assert [body for _, _, body in seen[:6]] == [f"body {i}".encode() for i in range(6)]
    assert (answer.status, answer.body) == (b"200", b"a")
    name, headers, body = seen[6]
    assert (name, body) == ("a", b"body")
    assert headers == [
        (b"Host", b"x"),
        (b"X-Slack-Signature", b"v0=ab"),
        (b"x-slack-request-timestamp", b"1"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Connection", b"close"),
    ]
    assert counts["forwarded"] == {a: 3, b: 2, c: 2}
    assert counts["refused"] == {a: 0, b: 0, c: 0} == counts["failed"]


async def test_a_backend_refusing_connections_is_skipped_and_none_left_is_502() -> None:
    seen: list[Seen] = []
    down = closed_port()
    async with echo_backend("up", seen) as up, splitter(down, up) as s:
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{s.port}/"
            for _ in range(4):
                async with http.post(url, data=b"x") as resp:
                    assert resp.status == 200 and await resp.text() == "up"
        assert s.counts()["refused"][down] == 4  # tried first each time, as its turn comes
        assert s.counts()["forwarded"] == {down: 0, up: 4}
    async with splitter(closed_port(), closed_port()) as s:
        answer = await exchange(s.port, b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
    assert answer.status == b"502"


async def test_a_post_that_reached_a_backend_is_never_sent_to_another() -> None:
    """The backend reads the request and dies: 502, since it may have acted on it."""
    got: list[bytes] = []

    async def dies(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        msg = await read_message(reader)
        assert msg is not None
        got.append(msg.body)
        writer.close()  # no answer

    seen: list[Seen] = []
    async with (
        raw_backend(dies) as bad,
        echo_backend("good", seen) as good,
        splitter(bad, good) as s,
    ):
        answer = await exchange(s.port, b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nonce")
        assert s.counts()["failed"] == {bad: 1, good: 0}
    assert answer.status == b"502"
    assert got == [b"once"] and seen == []


async def test_a_kept_alive_connection_the_backend_closed_is_replaced() -> None:
    """A backend that answers one request per connection but says keep-alive, then hangs up."""
    connections: list[int] = []
    serving: list[bytes] = []

    async def one_per_connection(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        connections.append(1)
        msg = await read_message(reader)
        if msg is not None:
            serving.append(msg.body)
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # interim: the answer follows
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
        writer.close()

    async with raw_backend(one_per_connection) as backend, splitter(backend) as s:
        for i in range(3):
            answer = await exchange(
                s.port, f"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\n{i}".encode()
            )
            assert (answer.status, answer.body) == (b"200", b"ok")
            for _ in range(1000):  # until the splitter's side has seen the backend hang up
                if all(r.at_eof() for r, _ in s.backends[0].idle):
                    break
                await asyncio.sleep(0.01)
    assert serving == [b"0", b"1", b"2"], "each request once, each on a new connection"
    assert len(connections) == 3


async def test_a_get_whose_kept_alive_connection_dies_unanswered_is_sent_again() -> None:
    """After writing on a reused connection, only a replayable request is sent again."""
    requests: list[bytes] = []

    async def answers_once_then_drops(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        first = True
        while (msg := await read_message(reader)) is not None:
            requests.append(msg.start_line)
            if not first:
                break  # read the second request, then drop the connection unanswered
            first = False
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1")
            await writer.drain()
        writer.close()

    async with raw_backend(answers_once_then_drops) as backend, splitter(backend) as s:
        first = await exchange(s.port, b"GET /a HTTP/1.1\r\n\r\n")
        again = await exchange(s.port, b"GET /b HTTP/1.1\r\n\r\n")
        posted = await exchange(s.port, b"POST /c HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        fresh = await exchange(s.port, b"POST /d HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        failed = s.counts()["failed"][backend]
    assert (first.body, again.body) == (b"1", b"1"), "the GET was sent again, answered"
    assert posted.status == b"502", "a POST that reached the backend is not sent twice"
    assert fresh.body == b"1", "the next request goes on a new connection"
    assert failed == 1
    assert requests == [
        b"GET /a HTTP/1.1",
        b"GET /b HTTP/1.1",  # reached the reused connection, dropped
        b"GET /b HTTP/1.1",  # sent again on a new one, answered
        b"POST /c HTTP/1.1",  # reached the reused connection, dropped: 502
        b"POST /d HTTP/1.1",
    ]


def test_the_command_serves_until_its_standard_input_closes() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.splitter", "--backend", closed_port(),
         "--port", str(port)],
        cwd=ROOT,
        env=clean_env({}),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert json.loads(proc.stdout.readline()) == {"port": port}
        answer = asyncio.run(exchange(port, b"GET /_splitter/counts HTTP/1.1\r\n\r\n"))
        assert set(json.loads(answer.body)) == {"forwarded", "refused", "failed"}
        proc.stdin.close()
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()
