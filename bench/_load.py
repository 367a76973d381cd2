"""A loopback HTTP/1.1 load generator: `connections` keep-alive connections, each sending GET
requests one after the other for `seconds`; (responses with a 2xx status, others/errors).

Written here because no HTTP benchmarking tool (wrk, oha, h2load) is installable on this
machine; it reads only the status line and Content-Length (enough for the apps measured).
"""

from __future__ import annotations

import asyncio
import itertools
import time


async def _client(host: str, port: int, paths: list[str], until: float, start: int) -> tuple[int, int]:
    reader, writer = await asyncio.open_connection(host, port)
    ok = bad = 0
    try:
        for i in itertools.count(start):
            if time.monotonic() >= until:
                break
            path = paths[i % len(paths)]
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\r\n"
                         .encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            if 200 <= status < 300:
                ok += 1
            else:
                bad += 1
    finally:
        writer.close()
    return ok, bad


async def load(host: str, port: int, paths: list[str], seconds: float,
               connections: int) -> tuple[int, int]:
    until = time.monotonic() + seconds
    results = await asyncio.gather(*(_client(host, port, paths, until, k * 97)
                                      for k in range(connections)), return_exceptions=True)
    ok = sum(r[0] for r in results if isinstance(r, tuple))
    bad = sum(r[1] for r in results if isinstance(r, tuple)) + sum(
        1 for r in results if isinstance(r, BaseException))
    return ok, bad
