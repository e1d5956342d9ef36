"""`idempotency_lock`: manual once-only sections, for work that is not a whole task.

    with relier.idempotency_lock(f"refund:{order_id}", ttl=60) as lock:
        if lock.already_done:
            return lock.result
        refund = payments.refund(order_id)
        lock.set_result(refund.id)

The result given to `set_result` is committed when the block exits cleanly and remembered
for RELIER_IDEMPOTENCY_TTL; an exception releases the lock so a later call can try again. A
clean exit without `set_result` stores nothing, releases the lock and raises
`IdempotencyResultNotSetError` (call ``set_result(None)`` for work that has no value).
A lock held by someone else raises `IdempotencyLockHeldError` with how long it has left.
"""

from __future__ import annotations

import hashlib
import uuid
from types import TracebackType
from typing import TYPE_CHECKING, Any

from relier.envelope import decode_value, encode_value
from relier.errors import (
    IdempotencyLockHeldError,
    IdempotencyLockLostError,
    IdempotencyResultNotSetError,
)
from relier.store import ScriptCall

if TYPE_CHECKING:
    from relier.runtime import Runtime

_UNSET = object()


class IdempotencyLock:
    """Sync and async context manager; see the module docstring."""

    def __init__(self, runtime: Runtime, key: str, ttl: float) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive seconds")
        self._runtime = runtime
        self.key = key
        self._ttl_ms = int(ttl * 1000)
        self._lock_key = runtime.keys.lock(hashlib.sha256(key.encode()).hexdigest())
        self._token = uuid.uuid4().hex
        self.already_done = False
        self.result: Any = None
        self._pending: Any = _UNSET

    def set_result(self, value: Any) -> None:
        """The value to store when the block exits cleanly (must be msgspec-encodable); a
        block that ends cleanly without it raises `IdempotencyResultNotSetError`."""
        encode_value(value)
        self._pending = value

    def _call(self, op: str, ttl_ms: int = 0, result: bytes = b"") -> ScriptCall:
        return self._runtime.store.contract.call(
            "lock", keys={"lock": self._lock_key},
            args={"op": op, "token": self._token, "ttl_ms": ttl_ms, "result": result,
                  "key": self.key})

    def _acquired(self, reply: list[Any]) -> IdempotencyLock:
        status = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
        if status == "done":
            self.already_done = True
            self.result = decode_value(reply[1]) if reply[1] else None
        elif status == "held":
            raise IdempotencyLockHeldError(
                f"idempotency lock {self.key!r} is held by another caller for {int(reply[1])} ms more"
            )
        return self

    def _finish(self, exc_type: type[BaseException] | None) -> ScriptCall | None:
        """The script call that ends the hold: commit after a clean exit with a result, else
        release (an exception, or no `set_result`)."""
        if self.already_done:
            return None
        if exc_type is not None or self._pending is _UNSET:
            return self._call("release")
        keep_ms = int(self._runtime.settings.idempotency_ttl * 1000)
        return self._call("commit", keep_ms, encode_value(self._pending))

    def _check_finished(self, reply: list[Any], exc_type: type[BaseException] | None) -> None:
        if exc_type is not None:
            return  # the block's own exception propagates
        if self._pending is _UNSET:
            raise IdempotencyResultNotSetError(
                f"idempotency lock {self.key!r}: the block ended without lock.set_result(value), "
                "so nothing was stored and the lock was released; call lock.set_result(...) "
                "before the block ends (lock.set_result(None) if the work has no value)"
            )
        status = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
        if status == "lost":
            raise IdempotencyLockLostError(
                f"idempotency lock {self.key!r} expired before the block finished; its result "
                "was not stored (raise its ttl)"
            )
        self.result = self._pending

    def __enter__(self) -> IdempotencyLock:
        return self._acquired(self._runtime.store.run(self._call("acquire", self._ttl_ms)))

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        call = self._finish(exc_type)
        if call is not None:
            self._check_finished(self._runtime.store.run(call), exc_type)

    async def __aenter__(self) -> IdempotencyLock:
        call = self._call("acquire", self._ttl_ms)
        scripts = self._runtime.connections.scripts_for_running_loop()
        return self._acquired(await scripts.run(call.name, call.keys, call.args))

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        call = self._finish(exc_type)
        if call is not None:
            scripts = self._runtime.connections.scripts_for_running_loop()
            self._check_finished(await scripts.run(call.name, call.keys, call.args), exc_type)
