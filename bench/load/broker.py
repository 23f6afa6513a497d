"""A peer figure: what a message broker a user could glue in instead takes on the same machine.

When a RabbitMQ answers on `--broker-url` (default amqp://guest:guest@127.0.0.1:5672/) and the `aiormq`
client is installed (the `bench` extra), publish persistent 3.2 KB messages to a durable queue with
publisher confirms, 32 in flight, for a few seconds: messages confirmed per second. It does none of the
hub's work (no signature, no schema, no case, no delivery): it is the ceiling of "a queue", for
comparison. Skipped with a note when no broker runs.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import Any

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"


async def broker_rate(
    url: str = DEFAULT_URL, *, seconds: float = 5.0, in_flight: int = 32, size: int = 3200
) -> dict[str, Any]:
    try:
        import aiormq
    except ImportError:
        return {"skipped": "aiormq is not installed (pip install -e '.[bench]')"}
    try:
        connection = await asyncio.wait_for(aiormq.connect(url), 5)
    except (OSError, TimeoutError, aiormq.exceptions.AMQPError) as exc:
        return {"skipped": f"no RabbitMQ at the broker URL ({exc.__class__.__name__})"}
    queue = f"hub-bench-{uuid.uuid4().hex[:8]}"
    body = os.urandom(size)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await channel.queue_declare(queue, durable=True)
        confirmed = 0
        deadline = time.monotonic() + seconds
        start = time.monotonic()

        async def publisher() -> None:
            nonlocal confirmed
            props = aiormq.spec.Basic.Properties(delivery_mode=2)  # persistent
            while time.monotonic() < deadline:
                await channel.basic_publish(
                    body, routing_key=queue, properties=props
                )  # waits for the confirm
                confirmed += 1

        await asyncio.gather(*(publisher() for _ in range(in_flight)))
        elapsed = time.monotonic() - start
        await channel.queue_delete(queue)
    finally:
        await connection.close()
    return {
        "messages_per_s": round(confirmed / elapsed, 1),
        "message_bytes": size,
        "in_flight": in_flight,
        "persistent": True,
        "publisher_confirms": True,
        "seconds": round(elapsed, 1),
    }
