#!/usr/bin/env python3
"""Peak memory of hookguard's layer under many concurrent over-limit senders.

Starts examples/load_server.rs in hookguard mode with the given body cap, opens
CONNECTIONS connections at once over loopback and:

- on CONNECTIONS - CHUNKED of them declares a Content-Length of twice the cap (refused
  from the head);
- on CHUNKED of them (half by default) streams a chunked body with no Content-Length: each sends exactly
  the cap, waits until every other sender has too (the moment the server holds the most),
  then sends one more chunk, which must be refused with 413.

Prints the server's resident memory before, its peak (VmHWM) and the statuses seen.

usage: overlimit.py SERVER_BINARY [--limit BYTES] [--connections N] [--chunked N] [--port P]
"""
import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections import Counter

CHUNK = 16 * 1024
SIGNATURE = "sha256=" + "0" * 64


def status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def head(port: int, extra: str) -> bytes:
    return (
        f"POST /webhook HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
        f"content-type: application/json\r\nx-claimr-signature: {SIGNATURE}\r\n{extra}\r\n"
    ).encode()


async def status_line(reader) -> str:
    try:
        line = await asyncio.wait_for(reader.readline(), 30)
    except (asyncio.TimeoutError, ConnectionError):
        return "no answer"
    parts = line.split()
    return parts[1].decode() if len(parts) > 1 else "closed"


async def declared(port: int, limit: int, statuses: Counter) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head(port, f"content-length: {2 * limit}\r\n"))
    writer.write(b"x" * CHUNK)
    await writer.drain()
    statuses["declared " + await status_line(reader)] += 1
    writer.close()


async def chunked(port: int, limit: int, barrier: asyncio.Barrier, statuses: Counter) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head(port, "transfer-encoding: chunked\r\n"))
    frame = f"{CHUNK:x}\r\n".encode() + b"x" * CHUNK + b"\r\n"
    sent = 0
    while sent + CHUNK <= limit:
        writer.write(frame)
        sent += CHUNK
        await writer.drain()
    rest = limit - sent
    if rest:
        writer.write(f"{rest:x}\r\n".encode() + b"x" * rest + b"\r\n")
        await writer.drain()
    await barrier.wait()
    try:
        writer.write(frame)
        await writer.drain()
    except ConnectionError:
        pass
    statuses["chunked " + await status_line(reader)] += 1
    writer.close()


async def run(args, pid: int) -> dict:
    statuses: Counter = Counter()
    n_chunked = args.chunked
    barrier = asyncio.Barrier(n_chunked + 1)
    tasks = [asyncio.create_task(chunked(args.port, args.limit, barrier, statuses)) for _ in range(n_chunked)]
    tasks += [asyncio.create_task(declared(args.port, args.limit, statuses))
              for _ in range(args.connections - n_chunked)]
    # Every chunked sender has sent the cap: the server holds the most it ever will.
    await asyncio.wait_for(barrier.wait(), 120)
    await asyncio.sleep(0.5)
    held = status_kib(pid, "VmRSS")
    await asyncio.gather(*tasks)
    return {"statuses": statuses, "held": held}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("server")
    parser.add_argument("--limit", type=int, default=1024 * 1024)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--chunked", type=int)
    parser.add_argument("--port", type=int, default=4010)
    args = parser.parse_args()
    if args.chunked is None:
        args.chunked = args.connections // 2
    server = subprocess.Popen(
        [args.server, "--mode", "hookguard", "--addr", f"127.0.0.1:{args.port}", "--limit", str(args.limit)],
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        before = status_kib(server.pid, "VmRSS")
        started = time.monotonic()
        result = asyncio.run(run(args, server.pid))
        elapsed = time.monotonic() - started
        time.sleep(0.5)
        peak = status_kib(server.pid, "VmHWM")
        after = status_kib(server.pid, "VmRSS")
    finally:
        server.terminate()
        server.wait()
    n_chunked = args.chunked
    per = (peak - before) / max(1, n_chunked)
    print(f"cap {args.limit} B, {args.connections} connections "
          f"({n_chunked} chunked holding the cap, {args.connections - n_chunked} declaring 2x the cap), {elapsed:.1f} s")
    print(f"server RSS before {before} KiB, with every chunked body at the cap {result['held']} KiB, "
          f"peak (VmHWM) {peak} KiB, after {after} KiB")
    if n_chunked:
        print(f"peak above start per chunked connection: {per:.0f} KiB (cap {args.limit // 1024} KiB)")
    else:
        print(f"peak above start per connection: {(peak - before) / args.connections:.1f} KiB")
    print("statuses: " + ", ".join(f"{k}: {v}" for k, v in sorted(result["statuses"].items())))
    bad = [k for k in result["statuses"] if not k.endswith("413")]
    if bad:
        sys.exit(f"answers other than 413: {bad}")


if __name__ == "__main__":
    main()
