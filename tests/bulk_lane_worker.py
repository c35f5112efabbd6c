"""A second OS process sending in bulk through the shared limiter (run by tests/limiter/test_lanes_e2e.py).

``python bulk_lane_worker.py CONFIG_JSON``: prints ``ready``, waits for a line on stdin, then sends
``recipients`` messages one recipient per call with ``send_bulk`` (so in the bulk lane) through a
:class:`RedisRateLimiter` for at most ``seconds``, and prints one JSON line: calls sent.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import anyio

from smsapi_async import AsyncSmsClient, RedisRateLimiter


async def work(config: dict[str, Any]) -> dict[str, Any]:
    limiter = RedisRateLimiter(config["redis_url"], key=config["key"], rate=config["rate"])
    sent = 0
    async with AsyncSmsClient(
        config["api_key"], config["api_secret"], base_url=config["base_url"], limiter=limiter
    ) as client:
        rows = [
            {"message": "Your parcel is on its way", "to": f"614{i:08d}"} for i in range(config["recipients"])
        ]
        with anyio.move_on_after(config["seconds"]):
            async with client.sms.send_bulk(rows, batch_size=1) as results:
                async for result in results:
                    sent += result.status == "sent"
    await limiter.aclose()
    return {"sent": sent}


def main() -> None:
    config = json.loads(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()
    print(json.dumps(anyio.run(work, config)), flush=True)


if __name__ == "__main__":
    main()
