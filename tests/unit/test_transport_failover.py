"""A broker failover keeps relier's transport (kombu's switch() would take its own)."""

from __future__ import annotations

import pytest
from kombu.connection import Connection as KombuConnection

from relier.transport import SENTINEL_TRANSPORT, TRANSPORT, Connection

FAILOVER = {
    SENTINEL_TRANSPORT: "sentinel://127.0.0.1:1;sentinel://127.0.0.1:2;sentinel://127.0.0.1:3",
    TRANSPORT: "redis://127.0.0.1:1/0;redis://127.0.0.1:2/0",
}


@pytest.mark.parametrize("transport", sorted(FAILOVER))
def test_every_alternate_keeps_relier_transport(transport: str) -> None:
    connection = Connection(FAILOVER[transport], transport=transport)
    for _ in range(4):
        connection.maybe_switch_next()
        assert connection.transport_cls == transport
    assert connection.hostname == "127.0.0.1"


def test_kombu_alone_loses_it_which_is_why_relier_keeps_it() -> None:
    connection = KombuConnection(FAILOVER[SENTINEL_TRANSPORT], transport=SENTINEL_TRANSPORT)
    connection.maybe_switch_next()
    assert connection.transport_cls == "sentinel"


def test_an_alternate_of_another_kind_keeps_its_own_transport() -> None:
    connection = Connection("redis://127.0.0.1:1/0;memory://", transport=TRANSPORT)
    connection.maybe_switch_next()
    assert connection.transport_cls == "memory"
