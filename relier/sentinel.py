"""Redis Sentinel addresses: relier's ``redis+sentinel://`` URL, and the Celery broker form.

``RELIER_REDIS_URL=redis+sentinel://[[user]:password@]host1:26379,host2:26379,host3:26379/<master>/<db>``
names the Sentinels, the monitored master's name and the database. The password is the Redis
nodes' (as kombu does); Sentinels that need their own password take it from
``?sentinel_password=...``. Celery's broker form is ``sentinel://host:26379;sentinel://...``
with ``broker_transport_options={"master_name": ...}``: `broker_settings` builds it, and
`from_broker` reads it back, so either side can be configured first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from relier.errors import ConfigurationError

SCHEME = "redis+sentinel"
DEFAULT_SENTINEL_PORT = 26379


@dataclass(frozen=True, slots=True)
class SentinelAddress:
    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None

    @property
    def url(self) -> str:
        auth = ""
        if self.password is not None:
            auth = f"{quote(self.username or '', safe='')}:{quote(self.password, safe='')}@"
        hosts = ",".join(f"{host}:{port}" for host, port in self.sentinels)
        query = ""
        if self.sentinel_password:
            query = f"?sentinel_password={quote(self.sentinel_password, safe='')}"
        return f"{SCHEME}://{auth}{hosts}/{self.master}/{self.db}{query}"

    def broker_settings(self) -> tuple[str, dict[str, Any]]:
        """Celery's ``broker_url`` and the ``broker_transport_options`` entries for it."""
        auth = f":{quote(self.password, safe='')}@" if self.password is not None else ""
        url = ";".join(f"sentinel://{auth}{host}:{port}/{self.db}" for host, port in self.sentinels)
        options: dict[str, Any] = {"master_name": self.master}
        if self.sentinel_password:
            options["sentinel_kwargs"] = {"password": self.sentinel_password}
        return url, options


def is_sentinel_url(url: str) -> bool:
    return url.startswith(f"{SCHEME}://")


def parse(url: str) -> SentinelAddress:
    """The address in a ``redis+sentinel://`` URL; `ConfigurationError` says what is wrong."""
    parts = urlsplit(url)
    if parts.scheme != SCHEME:
        raise ConfigurationError(f"{url!r} is not a {SCHEME}:// URL")
    hostlist = parts.netloc.rpartition("@")[2]
    sentinels = []
    for item in filter(None, hostlist.split(",")):
        host, sep, port = item.rpartition(":")
        if not sep:
            host, port = item, str(DEFAULT_SENTINEL_PORT)
        if not host or not port.isdigit():
            raise ConfigurationError(f"RELIER_REDIS_URL: {item!r} is not host:port")
        sentinels.append((host.strip("[]"), int(port)))
    if not sentinels:
        raise ConfigurationError("RELIER_REDIS_URL: no Sentinel host:port before the path")
    path = [segment for segment in parts.path.split("/") if segment]
    if not path:
        raise ConfigurationError(
            f"RELIER_REDIS_URL: name the monitored master: {SCHEME}://host:26379/<master>/<db>")
    if len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ConfigurationError(f"RELIER_REDIS_URL: the path must be /<master>/<db>, got {parts.path!r}")
    userinfo = parts.netloc.rpartition("@")[0]
    username, _, password = userinfo.partition(":") if userinfo else ("", "", "")
    query = parse_qs(parts.query)
    return SentinelAddress(
        sentinels=tuple(sentinels), master=unquote(path[0]), db=int(path[1]) if len(path) == 2 else 0,
        username=unquote(username) or None, password=unquote(password) if userinfo else None,
        sentinel_password=query.get("sentinel_password", [None])[0])


def from_broker(broker_url: str, transport_options: Mapping[str, Any]) -> SentinelAddress | None:
    """The address of a Celery ``sentinel://`` broker (None for any other broker)."""
    if not broker_url.startswith("sentinel://"):
        return None
    master = transport_options.get("master_name")
    if not master:
        raise ConfigurationError("a sentinel:// broker_url needs broker_transport_options['master_name']")
    sentinels, password, db = [], None, 0
    for item in filter(None, broker_url.split(";")):
        parts = urlsplit(item.strip())
        sentinels.append((parts.hostname or "localhost", parts.port or DEFAULT_SENTINEL_PORT))
        password = parts.password if parts.password is not None else password
        if parts.path.strip("/").isdigit():
            db = int(parts.path.strip("/"))
    sentinel_kwargs = transport_options.get("sentinel_kwargs") or {}
    return SentinelAddress(tuple(sentinels), str(master), db, None,
                           unquote(password) if password else None, sentinel_kwargs.get("password"))
