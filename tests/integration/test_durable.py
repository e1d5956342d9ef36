"""`durable=True`: a push returns only once Redis confirmed the AOF fsync (WAITAOF)."""

from __future__ import annotations

import pytest
import redis
from celery import Celery

from relier.binding import Relier
from relier.dispatch import apush, prepare_dispatch, push
from relier.errors import ConfigurationError, NotDurableError
from relier.spec import build_spec
from relier.testing import RedisServer
from tests.support import settings_for


def _has_waitaof(client: redis.Redis) -> bool:
    try:
        client.execute_command("WAITAOF", 0, 0, 1)
    except redis.ResponseError:
        return False
    return True


def _relier(url: str, **env: str) -> Relier:
    return Relier(Celery("durable-test", set_as_current=False), settings=settings_for(url, **env))


SPEC = build_spec(lambda n: n, name="durable.record", queue="durable", version=1, priority=0,
                  soft_timeout=None, hard_timeout=None, durable=True)


def test_durable_push_confirms_the_fsync_or_names_the_missing_command(redis_server: RedisServer,
                                                                       redis_client: redis.Redis) -> None:
    relier = _relier(redis_server.url)
    if not _has_waitaof(redis_client):
        with pytest.raises(ConfigurationError, match=r"WAITAOF: Redis 7\.2"):
            push(relier.runtime, prepare_dispatch(relier.runtime, SPEC, (1,), {}))
        return
    handle = push(relier.runtime, prepare_dispatch(relier.runtime, SPEC, (1,), {}))
    assert redis_client.hget(f"rl:t:{handle.id}", "state") == b"queued"


async def test_durable_apush_without_replicas_raises_but_keeps_the_task(
        redis_server: RedisServer, redis_client: redis.Redis) -> None:
    if not _has_waitaof(redis_client):
        pytest.skip("this server has no WAITAOF (Redis < 7.2); the sync test covers the refusal")
    relier = _relier(redis_server.url, RELIER_DURABLE_REPLICAS="1", RELIER_DURABLE_TIMEOUT="0.1")
    prepared = prepare_dispatch(relier.runtime, SPEC, (2,), {})
    with pytest.raises(NotDurableError) as caught:
        await apush(relier.runtime, prepared)
    assert caught.value.task_id == prepared.task_id
    assert caught.value.fsynced == 1
    assert redis_client.hget(f"rl:t:{prepared.task_id}", "state") == b"queued"
