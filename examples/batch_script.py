"""Push a batch from a plain script (or a notebook) and wait for every result.

    RELIER_REDIS_URL=redis://127.0.0.1:6399/0 python batch_script.py a.png b.png

In a notebook, run the same calls in a cell: `push` and `result` are plain blocking calls,
and since Jupyter already runs an event loop, `await resize_all_async([...])` works too.
"""

from __future__ import annotations

import asyncio
import sys

from quickstart_tasks import resize_image


def resize_all(paths: list[str]) -> list[str]:
    handles = [resize_image.push(path) for path in paths]  # one Redis round trip each
    return [handle.result(timeout=60) for handle in handles]


async def resize_all_async(paths: list[str]) -> list[str]:
    handles = await asyncio.gather(*(resize_image.apush(path) for path in paths))
    return list(await asyncio.gather(*(handle.aresult(timeout=60) for handle in handles)))


if __name__ == "__main__":
    for resized in resize_all(sys.argv[1:]):
        print(resized)
