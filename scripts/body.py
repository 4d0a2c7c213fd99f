#!/usr/bin/env python3
"""Write a claimr user_activity body of exactly SIZE bytes to PATH and print its
x-claimr-signature value (the same bodies as benches/support/mod.rs).

usage: body.py SIZE PATH SECRET
"""
import hashlib
import hmac
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "tests", "fixtures", "claimr", "user_activity.json")
MINIMAL = ('{"id":"a6f1c2e4-3b7d-4c8e-9f10-2d5e8b7a9c31","scope":"user_activity",'
           '"user_id":"6643219fa2c1b8e5d4f70a12"}')


def body(size: int) -> bytes:
    with open(FIXTURE, encoding="utf-8") as f:
        fixture = f.read().rstrip()
    base = fixture if size >= len(fixture) + 16 else MINIMAL
    head = base[: base.rindex("}")]
    fixed = len(head) + len(',"pad":""}')
    if size < fixed:
        sys.exit(f"{size} is below the smallest delivery")
    out = head + ',"pad":"' + "x" * (size - fixed) + '"}'
    assert len(out) == size
    return out.encode()


def main() -> None:
    size, path, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    data = body(size)
    with open(path, "wb") as f:
        f.write(data)
    print("sha256=" + hmac.new(secret.encode(), data, hashlib.sha256).hexdigest())


if __name__ == "__main__":
    main()
