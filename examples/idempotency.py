"""Idempotency: one charge per order and one refund per order, however often they are pushed.

The storage here is SQLite (EXAMPLE_DB); the SQL works the same on PostgreSQL.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from relier import current_context, idempotency_lock, rl_task

SCHEMA = """
CREATE TABLE IF NOT EXISTS charges (idempotency_key TEXT PRIMARY KEY, order_id TEXT, cents INTEGER);
CREATE TABLE IF NOT EXISTS refunds (order_id TEXT PRIMARY KEY, reason TEXT);
CREATE TABLE IF NOT EXISTS bonuses (id INTEGER PRIMARY KEY, user_id TEXT, cents INTEGER);
"""


@contextmanager
def shop_db() -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(os.environ.get("EXAMPLE_DB", "example.sqlite3"), timeout=30)
    try:
        db.executescript(SCHEMA)
        with db:  # one transaction: committed, or rolled back on an exception
            yield db
    finally:
        db.close()


@rl_task(name="shop.charge_order", idempotent=True)
def charge_order(order_id: str, cents: int) -> str:
    """Keyed by its arguments: pushing the same call again returns the same task, and once it
    completed, its stored result without running the body."""
    # A body can start again after its process died mid-way, so the effect is keyed at the
    # resource too, with the call's key (payment providers accept one for this).
    key = current_context().idempotency_key
    with shop_db() as db:
        db.execute("INSERT INTO charges VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                   (key, order_id, cents))
    return f"charged {cents} for {order_id}"


def one_refund_per_order(order_id: str, reason: str) -> str:
    """The idempotency key of a refund: its order, whatever the reason given."""
    return order_id


@rl_task(name="shop.refund_order", idempotency_key=one_refund_per_order)
def refund_order(order_id: str, reason: str) -> str:
    with shop_db() as db:
        db.execute("INSERT INTO refunds VALUES (?, ?) ON CONFLICT DO NOTHING", (order_id, reason))
    return f"refunded {order_id}: {reason}"


def grant_signup_bonus(user_id: str) -> int:
    """Once-only work outside a task (a web handler, a script): the bonus row's id, credited
    once per user. A concurrent caller gets IdempotencyLockHeldError."""
    with idempotency_lock(f"signup-bonus:{user_id}", ttl=30) as lock:
        if not lock.already_done:
            with shop_db() as db:
                row = db.execute("INSERT INTO bonuses (user_id, cents) VALUES (?, 500)", (user_id,))
            lock.set_result(row.lastrowid)
    return int(lock.result)
