"""Redis clients for one process: one pooled sync client, and one asyncio client per loop.

Pools are blocking, so a burst of pushes waits for a free connection (bounded by the socket
timeout) instead of failing; redis-py pools reset themselves in a forked child.
"""

from __future__ import annotations

import asyncio
import threading
import weakref

import redis
import redis.asyncio

from relier.config import Settings
from relier.scripts import AsyncScriptSet


class Connections:
    """Lazily created clients for `settings.redis_url`."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._sync: redis.Redis | None = None
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis] = (
            weakref.WeakKeyDictionary()
        )
        self._async_scripts: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, AsyncScriptSet
        ] = weakref.WeakKeyDictionary()

    @property
    def url(self) -> str:
        return self._settings.redis_url

    def sync(self) -> redis.Redis:
        client = self._sync
        if client is None:
            with self._lock:
                if self._sync is None:
                    pool = redis.BlockingConnectionPool.from_url(
                        self._settings.redis_url,
                        max_connections=self._settings.max_connections,
                        timeout=self._settings.socket_timeout,
                        socket_timeout=self._settings.socket_timeout,
                        socket_connect_timeout=self._settings.socket_timeout,
                        health_check_interval=30,
                    )
                    self._sync = redis.Redis(connection_pool=pool)
                client = self._sync
        return client

    def for_running_loop(self) -> redis.asyncio.Redis:
        """The asyncio client of the running event loop (clients cannot cross loops)."""
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                self._settings.redis_url,
                max_connections=self._settings.max_connections,
                timeout=self._settings.socket_timeout,
                socket_timeout=self._settings.socket_timeout,
                socket_connect_timeout=self._settings.socket_timeout,
            )
            client = redis.asyncio.Redis(connection_pool=pool)
            self._async[loop] = client
        return client

    def scripts_for_running_loop(self) -> AsyncScriptSet:
        """relier's scripts registered on the running loop's client."""
        loop = asyncio.get_running_loop()
        scripts = self._async_scripts.get(loop)
        if scripts is None:
            scripts = self._async_scripts[loop] = AsyncScriptSet(self.for_running_loop())
        return scripts

    def close(self) -> None:
        with self._lock:
            if self._sync is not None:
                self._sync.close()
                self._sync.connection_pool.disconnect()
                self._sync = None
