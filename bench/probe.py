"""The reference probe: a bare ASGI app (no framework, no middleware) served exactly as `mercato serve`
serves Mercato. Its throughput is what this machine, uvicorn and asyncpg can do at best, so Mercato's
figures are read as ratios to it (see README.md).

    python bench/probe.py --port 8101 [--pool-size 20]     # DATABASE_URL names the database

Routes: `/const` answers a constant small JSON body; `/pk` reads one `bench_probe` row by primary key
(the id cycles through the table) and answers it as JSON.
"""

from __future__ import annotations

import argparse
import itertools
import os
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

import asyncpg
import orjson
import uvicorn

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CONST_BODY = b'{"status":"ok"}'
PK_QUERY = "SELECT id, payload FROM bench_probe WHERE id = $1"
_JSON = (b"content-type", b"application/json")


class Probe:
    def __init__(self, database_url: str, pool_size: int) -> None:
        self.database_url = database_url
        self.pool_size = pool_size
        self.pool: asyncpg.Pool | None = None
        self.ids: Iterator[int] = iter(())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path = scope["path"]
        if path == "/const":
            await _respond(send, 200, CONST_BODY)
        elif path == "/pk" and self.pool is not None:
            row = await self.pool.fetchrow(PK_QUERY, next(self.ids))
            await _respond(send, 200, orjson.dumps(dict(row)) if row else b"null")
        else:
            await _respond(send, 404, b'{"error":"not found"}')

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self._start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.pool is not None:
                    await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _start(self) -> None:
        self.pool = await asyncpg.create_pool(self.database_url, min_size=self.pool_size, max_size=self.pool_size)
        ids = [record["id"] for record in await self.pool.fetch("SELECT id FROM bench_probe ORDER BY id")]
        if not ids:
            raise RuntimeError("bench_probe is empty; bench/run.py creates and fills it")
        self.ids = itertools.cycle(ids)


async def _respond(send: Send, status: int, body: bytes) -> None:
    headers = [_JSON, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pool-size", type=int, default=20, help="connections (run.py passes Mercato's maximum)")
    args = parser.parse_args()
    app = Probe(os.environ["DATABASE_URL"], args.pool_size)
    # The options of `mercato serve` (src/mercato/cli.py), so the server stack is the same on both sides.
    uvicorn.run(
        app, host=args.host, port=args.port, workers=1, loop="uvloop", http="httptools", access_log=False,
        log_config=None, proxy_headers=False, server_header=False, timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
