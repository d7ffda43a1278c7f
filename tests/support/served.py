"""The app served on 127.0.0.1 from a background thread, for synchronous tests (hypothesis)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any

from aiohttp import web

from bot.app import Bot, Tuning, build_bot
from bot.runtime.server import web_app
from bot.settings import Settings


class ServedBot:
    """Builds the bot and serves it on its own event loop in a daemon thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.bot: Bot | None = None
        self.url = ""
        self._runner: web.AppRunner | None = None

    def start(self) -> ServedBot:
        """Start the loop and serve the app; returns once it listens."""
        self.thread.start()
        self.run(self._start())
        return self

    async def _start(self) -> None:
        self.bot = await build_bot(self.settings, tuning=Tuning(retry_seconds=1.0))
        self._runner = web.AppRunner(web_app(self.bot), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        await self.bot.start()

    def run(self, coro: Any, timeout: float = 30.0) -> Any:
        """Run a coroutine on the app's loop and wait for its result."""
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def stop(self) -> None:
        """Stop serving, close the bot and the loop."""
        self.run(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self.bot is not None:
            await self.bot.close(grace=1.0)
