"""The packed queue element: a relier message stored once, compressed, with its tag in clear.

relier keeps every message twice while it waits (the queue's list for the consumer, the task's
record for recovery), so its size counts twice in Redis memory and in the append-only file.
A kombu message is about 1 KB of JSON that is mostly the same from one task to the next, so
relier stores it as raw DEFLATE against a preset dictionary of that common text (about 320
bytes for a no-argument task), and only the delivery tag, which a Lua script rotates on every
re-queue, outside the compressed part:

    PACKED_PREFIX  tag  NUL  deflate(head NUL tail)

where the kombu JSON is ``head + tag + tail``. The worker's gate unpacks an element before
kombu parses it (`unpack_element`); plain kombu JSON (Celery's own producers) passes
unchanged. The prefix carries the format's version: `_DICTIONARY` may never change under it,
or messages already queued could not be read (tests/unit/test_packing.py pins it).
"""

from __future__ import annotations

import hashlib
import json
import zlib

#: What starts a packed element (a kombu message is JSON, which never starts with NUL).
PACKED_PREFIX = b"\x00rl1"
#: The separator between tag and compressed part, and between head and tail inside it.
_SEPARATOR = b"\x00"
#: Raw DEFLATE (no zlib header or checksum: the envelope's signature is the integrity check)
#: with a 2 KiB window: enough for the dictionary, and cheap to set up for every message.
_WINDOW_BITS = -11
_MEMORY_LEVEL = 4
_LEVEL = 1
#: The text every relier message shares, in the order `relier.message.build_message` writes it.
_DICTIONARY = (
    b'{"body": "", "content-encoding": "binary", "content-type": "application/x-relier", '
    b'"headers": {"lang": "py", "task": "", "id": "", "shadow": null, "eta": null, '
    b'"expires": null, "group": null, "group_index": null, "retries": 0, '
    b'"timelimit": [null, null], "root_id": "", "parent_id": null, "ignore_result": true, '
    b'"replaced_task_nesting": 0, "stamped_headers": null, "stamps": {}, "argsrepr": "()", '
    b'"kwargsrepr": "{}", "origin": "gen"}, "properties": {"correlation_id": "", '
    b'"reply_to": "", "delivery_mode": 2, "delivery_info": {"exchange": "", '
    b'"routing_key": "default"}, "priority": 0, "body_encoding": "base64", "delivery_tag": "'
)
#: SHA-256 of `_DICTIONARY`, for the test that keeps it unchanged under `PACKED_PREFIX`.
DICTIONARY_SHA256 = hashlib.sha256(_DICTIONARY).hexdigest()
#: The largest kombu message an element may unpack to (a bomb is refused, not inflated).
MAX_UNPACKED_BYTES = 64 * 1024 * 1024


class PackedElementError(ValueError):
    """An element that starts as a packed one but cannot be unpacked."""


def pack(head: str, tail: str) -> bytes:
    """The compressed part of the element for the kombu JSON ``head + tag + tail``."""
    compressor = zlib.compressobj(
        _LEVEL, zlib.DEFLATED, _WINDOW_BITS, _MEMORY_LEVEL, zlib.Z_DEFAULT_STRATEGY, _DICTIONARY
    )
    text = head.encode("utf-8") + _SEPARATOR + tail.encode("utf-8")
    return compressor.compress(text) + compressor.flush()


def element(packed: bytes, tag: str) -> bytes:
    """The queue element for `packed` (from `pack`) carrying delivery tag `tag`; what the Lua
    scripts build as ``PACKED .. tag .. '\\0' .. message``."""
    return PACKED_PREFIX + tag.encode("utf-8") + _SEPARATOR + packed


def is_packed(item: bytes) -> bool:
    return item.startswith(PACKED_PREFIX)


def unpack_element(item: bytes) -> bytes:
    """The kombu JSON a packed `item` holds; raises `PackedElementError` when it is malformed
    (no tag, a tag that is not text, a compressed part that does not inflate, or inflates past
    `MAX_UNPACKED_BYTES`)."""
    tag, separator, packed = item[len(PACKED_PREFIX) :].partition(_SEPARATOR)
    if not separator or not tag:
        raise PackedElementError("a packed element without its delivery tag")
    try:
        tag_text = tag.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PackedElementError("a packed element whose delivery tag is not UTF-8") from exc
    inflater = zlib.decompressobj(_WINDOW_BITS, zdict=_DICTIONARY)
    try:
        text = inflater.decompress(packed, MAX_UNPACKED_BYTES)
    except zlib.error as exc:
        raise PackedElementError(f"a packed element that does not inflate ({exc})") from exc
    if not inflater.eof and (inflater.unconsumed_tail or len(text) >= MAX_UNPACKED_BYTES):
        raise PackedElementError(f"a packed element that inflates past {MAX_UNPACKED_BYTES} bytes")
    if not inflater.eof:
        raise PackedElementError("a packed element cut short")
    head, inner, tail = text.partition(_SEPARATOR)
    if not inner:
        raise PackedElementError("a packed element without its tag's place")
    return head + json.dumps(tag_text)[1:-1].encode("utf-8") + tail


def element_text(item: bytes) -> bytes:
    """`item` as kombu JSON bytes: unpacked when packed, else as it is (for display and tools;
    a malformed packed element is returned as it is)."""
    if not is_packed(item):
        return item
    try:
        return unpack_element(item)
    except PackedElementError:
        return item
