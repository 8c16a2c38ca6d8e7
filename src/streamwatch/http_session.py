"""One aiohttp session per sender, opened on first use (an aiohttp session must be made inside
the running event loop, and a sender is built before it starts)."""

from __future__ import annotations

import aiohttp


class LazySession:
    """Opens the session with ``timeout`` when first asked for; ``close`` is idempotent."""

    def __init__(self, timeout: aiohttp.ClientTimeout) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        """The open session."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def close(self) -> None:
        """Close the session, if open."""
        if self._session is not None:
            await self._session.close()
            self._session = None
