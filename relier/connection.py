"""Redis clients for one process: one pooled sync client, and one asyncio client per loop.

Pools are blocking, so a burst of pushes waits for a free connection (bounded by the socket
timeout) instead of failing; redis-py pools reset themselves in a forked child.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel

from relier.config import Settings
from relier.scripts import AsyncScriptSet
from relier.sentinel import SentinelAddress, is_sentinel_url, parse


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
                if self._sync is None and is_sentinel_url(self._settings.redis_url):
                    self._sync = sentinel_master(self._settings)
                elif self._sync is None:
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
        if client is None and is_sentinel_url(self._settings.redis_url):
            client = self._async[loop] = async_sentinel_master(self._settings)
        elif client is None:
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


def _sentinel_kwargs(settings: Settings) -> tuple[SentinelAddress, dict[str, Any], dict[str, Any]]:
    address = parse(settings.redis_url)
    timeouts = {"socket_timeout": settings.socket_timeout,
                "socket_connect_timeout": settings.socket_timeout}
    sentinel_kwargs: dict[str, Any] = dict(timeouts)
    if address.sentinel_password:
        sentinel_kwargs["password"] = address.sentinel_password
    master_kwargs: dict[str, Any] = {**timeouts, "db": address.db, "password": address.password,
                                     "username": address.username,
                                     "max_connections": settings.max_connections}
    return address, sentinel_kwargs, master_kwargs


def sentinel_master(settings: Settings) -> redis.Redis:
    """A client of the master the Sentinels name now; its pool asks them again after a
    connection error, so it follows a failover (a demoted master's READONLY reply counts as a
    connection error)."""
    address, sentinel_kwargs, master_kwargs = _sentinel_kwargs(settings)
    sentinels = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call]
        list(address.sentinels), sentinel_kwargs=sentinel_kwargs)
    client: redis.Redis = sentinels.master_for(address.master, **master_kwargs)  # type: ignore[no-untyped-call]
    return client


def async_sentinel_master(settings: Settings) -> redis.asyncio.Redis:
    address, sentinel_kwargs, master_kwargs = _sentinel_kwargs(settings)
    sentinels = redis.asyncio.sentinel.Sentinel(  # type: ignore[no-untyped-call]
        list(address.sentinels), sentinel_kwargs=sentinel_kwargs)
    client: redis.asyncio.Redis = sentinels.master_for(address.master, **master_kwargs)
    return client


def client_for(settings: Settings) -> redis.Redis:
    """A plain client of relier's Redis (following Sentinel when the URL names Sentinels)."""
    if is_sentinel_url(settings.redis_url):
        return sentinel_master(settings)
    return redis.Redis.from_url(settings.redis_url, socket_timeout=settings.socket_timeout,
                                socket_connect_timeout=settings.socket_timeout)
