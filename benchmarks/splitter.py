"""A round-robin HTTP/1.1 splitter in front of several instances, as a load balancer is.

`python -m benchmarks.splitter --backend 127.0.0.1:PORT …` listens on 127.0.0.1 (a free port
unless --port), prints one JSON line `{"port": …}` and serves until its standard input closes.
Each request goes to the next backend in turn, its bytes unchanged (request line, headers in
their order and case, body), so Slack's signature still verifies behind it. A backend that
refuses the connection is skipped for the next one; with every backend refusing, the client gets
502. A backend that fails after the request reached it is not tried again (it may have acted on
it): the client gets 502, as from a load balancer. Only a kept-alive connection the backend had
already closed is replaced, and a request is sent again on a new one only when it cannot have
been acted on (it could not be written, or its method is GET, HEAD or OPTIONS), as Go's and
nginx's proxies do. `GET /_splitter/counts` answers how many requests each backend took
(`forwarded`), how many connections it refused (`refused`) and how many requests failed after
reaching it (`failed`).

Raw asyncio streams, not an HTTP library: a library would parse and re-emit the headers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

COUNTS_PATH = b"/_splitter/counts"
HEAD_LIMIT = 64 * 1024
BAD_GATEWAY = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
# Methods a backend cannot have acted on in a way that matters when sent twice.
REPLAYABLE = frozenset({b"GET", b"HEAD", b"OPTIONS"})


class Incomplete(Exception):
    """The peer closed the connection before a whole message arrived."""


@dataclass
class Message:
    """One HTTP message as received: its head (start line and headers) and its framed body."""

    head: bytes
    body: bytes
    # The body ran to the end of the connection (no length, not chunked): only a close ends it.
    until_eof: bool = False

    @property
    def start_line(self) -> bytes:
        return self.head.split(b"\r\n", 1)[0]

    def header(self, name: bytes) -> bytes | None:
        """The first value of a header (names compared case-insensitively)."""
        for line in self.head.split(b"\r\n")[1:]:
            key, sep, value = line.partition(b":")
            if sep and key.strip().lower() == name:
                return value.strip()
        return None

    @property
    def status(self) -> bytes:
        """A response's status code ("" for a request)."""
        parts = self.start_line.split(b" ", 2)
        return parts[1] if len(parts) > 1 and parts[0].startswith(b"HTTP/") else b""

    def closes(self) -> bool:
        """The sender will close the connection after this message."""
        if self.until_eof:
            return True
        conn = (self.header(b"connection") or b"").lower()
        if self.start_line.endswith(b"HTTP/1.0") or self.start_line.startswith(b"HTTP/1.0"):
            return b"keep-alive" not in conn
        return b"close" in conn

    def raw(self) -> bytes:
        return self.head + self.body


async def read_message(
    reader: asyncio.StreamReader, *, response_to: bytes | None = None
) -> Message | None:
    """Read one message (a request, or the response to a request of method `response_to`).

    Returns None when the connection closed cleanly before a new message began. The body is
    kept framed as it came (Content-Length bytes, or chunks with their sizes and trailers), so
    forwarding it is a copy.
    """
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise Incomplete from exc
    except asyncio.LimitOverrunError as exc:
        raise Incomplete from exc
    msg = Message(head, b"")
    if response_to is not None:
        status = msg.status
        if response_to == b"HEAD" or status in (b"204", b"304") or status.startswith(b"1"):
            return msg
    try:
        if b"chunked" in (msg.header(b"transfer-encoding") or b"").lower():
            msg.body = await _read_chunked(reader)
        elif (length := msg.header(b"content-length")) is not None:
            msg.body = await reader.readexactly(int(length))
        elif response_to is not None:  # no framing: the body runs to the end of the connection
            msg.body = await reader.read()
            msg.until_eof = True
    except asyncio.IncompleteReadError as exc:
        raise Incomplete from exc
    return msg


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        parts.append(size_line)
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while True:  # trailers, up to the empty line
                line = await reader.readuntil(b"\r\n")
                parts.append(line)
                if line == b"\r\n":
                    return b"".join(parts)
        parts.append(await reader.readexactly(size + 2))


@dataclass
class _Backend:
    host: str
    port: int
    forwarded: int = 0
    refused: int = 0
    failed: int = 0
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"


class Splitter:
    """Round-robin over `backends` ("host:port"), listening on host:port (0: a free one)."""

    def __init__(self, backends: Sequence[str], host: str = "127.0.0.1", port: int = 0) -> None:
        if not backends:
            raise ValueError("at least one backend")
        self.backends = [_Backend(h, int(p)) for h, _, p in (b.rpartition(":") for b in backends)]
        self.host, self.port = host, port
        self._next = 0
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Listen; returns the port."""
        self._server = await asyncio.start_server(self._client, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def close(self) -> None:
        """Stop listening, end client connections, close pooled backend connections."""
        if self._server is not None:
            self._server.close()
        for task in list(self._clients):
            task.cancel()
        await asyncio.gather(*self._clients, return_exceptions=True)
        pooled = [writer for backend in self.backends for _, writer in backend.idle]
        for backend in self.backends:
            backend.idle.clear()
        for writer in pooled:
            writer.close()
        await asyncio.gather(*(w.wait_closed() for w in pooled), return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def counts(self) -> dict[str, dict[str, int]]:
        """Requests forwarded to, connections refused by and requests failed at each backend."""
        return {
            "forwarded": {b.name: b.forwarded for b in self.backends},
            "refused": {b.name: b.refused for b in self.backends},
            "failed": {b.name: b.failed for b in self.backends},
        }

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        try:
            while True:
                try:
                    request = await read_message(reader)
                except (Incomplete, ValueError, ConnectionError):
                    return
                if request is None:
                    return
                answer: Message | bytes
                if request.start_line.split(b" ")[1:2] == [COUNTS_PATH]:
                    answer = _json_response(self.counts())
                else:
                    answer = await self._forward(request)
                writer.write(answer.raw() if isinstance(answer, Message) else answer)
                await writer.drain()
                closing = not isinstance(answer, Message) or answer.closes()
                if closing or request.closes():
                    return
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._clients.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _forward(self, request: Message) -> Message | bytes:
        """Send to the next backend that takes the connection; its response, or 502."""
        method = request.start_line.split(b" ", 1)[0]
        for _ in range(len(self.backends)):
            backend = self.backends[self._next % len(self.backends)]
            self._next += 1
            answer = await self._exchange(backend, request, method)
            if answer is not None:
                return answer
        return BAD_GATEWAY

    async def _exchange(
        self, backend: _Backend, request: Message, method: bytes
    ) -> Message | bytes | None:
        """One request to one backend: its response, 502 bytes, or None when it refused."""
        while True:
            connection = self._pooled(backend)
            pooled = connection is not None
            if connection is None:
                try:
                    connection = await asyncio.open_connection(
                        backend.host, backend.port, limit=HEAD_LIMIT
                    )
                except OSError:  # refused, or nothing there: the next backend's turn
                    backend.refused += 1
                    return None
            reader, writer = connection
            written = False
            try:
                writer.write(request.raw())
                await writer.drain()
                written = True
                response = await read_message(reader, response_to=method)
                while response is not None and _interim(response):
                    response = await read_message(reader, response_to=method)
                if response is None:
                    raise Incomplete
            except (Incomplete, ConnectionError, ValueError):
                writer.close()
                if pooled and (not written or method in REPLAYABLE):
                    # A kept-alive connection the backend had closed: it never acted on this one.
                    continue
                backend.failed += 1
                return BAD_GATEWAY
            backend.forwarded += 1
            if response.closes() or request.closes():  # the backend may close it any moment
                writer.close()
            else:
                backend.idle.append((reader, writer))
            return response

    @staticmethod
    def _pooled(backend: _Backend) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """A kept-alive connection to the backend that it has not closed meanwhile, if any."""
        while backend.idle:
            reader, writer = backend.idle.pop()
            if reader.at_eof() or writer.is_closing():
                writer.close()
                continue
            return reader, writer
        return None


def _interim(response: Message) -> bool:
    """A 1xx answer other than 101: the final one follows on the same connection."""
    return response.status.startswith(b"1") and response.status != b"101"


def _json_response(body: object) -> bytes:
    data = json.dumps(body).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    return head.encode() + b"\r\n" + data


async def _serve(backends: Sequence[str], port: int) -> None:
    splitter = Splitter(backends, port=port)
    print(json.dumps({"port": await splitter.start()}), flush=True)
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(None, sys.stdin.read)  # returns at EOF: the parent is done
    finally:
        await splitter.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.splitter", description=__doc__)
    p.add_argument("--backend", action="append", required=True, help="host:port, repeated")
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args(argv)
    asyncio.run(_serve(args.backend, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
