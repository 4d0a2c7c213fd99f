#!/usr/bin/env python3
"""Peak memory of the load server under many concurrent valid deliveries, per mode.

For each mode (bare, hookguard by default), starts examples/load_server.rs, opens
CONNECTIONS connections at once over loopback and sends on each a signed claimr delivery
of SIZE bytes (the body of scripts/body.py) but for its last byte; once every connection
has (the moment the server holds the most), sends the last bytes and reads the answers,
which must all be 200. Prints the server's resident memory before and its peak (VmHWM).

usage: concurrent_rss.py SERVER_BINARY [--size BYTES] [--connections N] [--modes "bare hookguard"]
"""
import argparse
import asyncio
import hashlib
import hmac
import os
import subprocess
import sys
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from body import body  # noqa: E402  (the same bodies as scripts/load.sh)

SECRET = "load-secret"


def status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


async def deliver(port: int, request: bytes, barrier: asyncio.Barrier, statuses: Counter) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request[:-1])
    await writer.drain()
    await barrier.wait()
    writer.write(request[-1:])
    await writer.drain()
    try:
        line = await asyncio.wait_for(reader.readline(), 30)
        parts = line.split()
        statuses[parts[1].decode() if len(parts) > 1 else "closed"] += 1
    except (asyncio.TimeoutError, ConnectionError):
        statuses["no answer"] += 1
    writer.close()


async def run(port: int, connections: int, request: bytes, pid: int) -> tuple:
    statuses: Counter = Counter()
    barrier = asyncio.Barrier(connections + 1)
    tasks = [asyncio.create_task(deliver(port, request, barrier, statuses)) for _ in range(connections)]
    await asyncio.wait_for(barrier.wait(), 120)
    await asyncio.sleep(0.5)
    held = status_kib(pid, "VmRSS")
    await asyncio.gather(*tasks)
    return statuses, held


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("server")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--modes", default="bare hookguard")
    parser.add_argument("--port", type=int, default=4020)
    args = parser.parse_args()
    data = body(args.size)
    signature = "sha256=" + hmac.new(SECRET.encode(), data, hashlib.sha256).hexdigest()
    request = (
        f"POST /webhook HTTP/1.1\r\nhost: 127.0.0.1:{args.port}\r\n"
        f"content-type: application/json\r\nx-claimr-signature: {signature}\r\n"
        f"content-length: {len(data)}\r\n\r\n"
    ).encode() + data
    failed = False
    print(f"{args.connections} concurrent {args.size}-byte deliveries")
    print("mode       RSS at start  held (all bodies but a byte)  peak (VmHWM)  answers")
    for mode in args.modes.split():
        server = subprocess.Popen(
            [args.server, "--mode", mode, "--addr", f"127.0.0.1:{args.port}"],
            env={**os.environ, "LOAD_SECRET": SECRET},
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(0.5)
            before = status_kib(server.pid, "VmRSS")
            statuses, held = asyncio.run(run(args.port, args.connections, request, server.pid))
            time.sleep(0.5)
            peak = status_kib(server.pid, "VmHWM")
        finally:
            server.terminate()
            server.wait()
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
        print(f"{mode:<10} {before:>9} KiB  {held:>24} KiB  {peak:>8} KiB  {answers}")
        failed |= set(statuses) != {"200"}
    if failed:
        sys.exit("some delivery was not answered 200")


if __name__ == "__main__":
    main()
