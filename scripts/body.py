#!/usr/bin/env python3
"""Write a claimr user_activity body of exactly SIZE bytes to PATH and print its
x-claimr-signature value.

The body is the realistic delivery (tests/fixtures/claimr/user_activity_realistic.json,
1,079 bytes: free-form text in `action.meta`, an unknown field): as it is at its own
size, padded with an unknown `pad` field above it, and a minimal delivery padded below.
LOAD_BODY_BASE=padded gives the earlier bodies instead (the 807-byte user_activity
fixture padded, as benches/support/mod.rs builds them for the criterion benches).

usage: body.py SIZE PATH SECRET
"""
import hashlib
import hmac
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "tests", "fixtures", "claimr",
                       "user_activity.json" if os.environ.get("LOAD_BODY_BASE") == "padded"
                       else "user_activity_realistic.json")
MINIMAL = ('{"id":"a6f1c2e4-3b7d-4c8e-9f10-2d5e8b7a9c31","scope":"user_activity",'
           '"user_id":"6643219fa2c1b8e5d4f70a12"}')


def body(size: int) -> bytes:
    with open(FIXTURE, encoding="utf-8") as f:
        fixture = f.read().rstrip()
    if size == len(fixture):
        return fixture.encode()
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
