#!/usr/bin/env python3
"""Writes the seed corpus for each fuzz target from tests/fixtures.

Run from anywhere: python3 fuzz/make_seeds.py. The seeds are committed; the corpus a
fuzzing run grows is kept elsewhere (see fuzz/README.md).
"""
import base64
import hashlib
import hmac
import pathlib

FUZZ = pathlib.Path(__file__).resolve().parent
FIXTURES = FUZZ.parent / "tests" / "fixtures"
SECRET = b"fuzz-secret"  # the secret the targets use
TIMESTAMP = b"1700000000"


def tag(data: bytes) -> bytes:
    return hmac.new(SECRET, data, hashlib.sha256).digest()


def write(target: str, name: str, data: bytes) -> None:
    folder = FUZZ / "corpus" / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


claimr = {p.stem: p.read_bytes() for p in sorted((FIXTURES / "claimr").glob("*.json"))}
chainvine = {p.stem: p.read_bytes() for p in sorted((FIXTURES / "chainvine").glob("*.json"))}
activity = claimr["user_activity"]

# signature_header: header values, one a line, for the user_activity body.
good_hex = b"sha256=" + tag(activity).hex().encode()
good_b64 = base64.b64encode(tag(activity))
good_ts = b"v1," + tag(TIMESTAMP + b"." + activity).hex().encode()
decoy = b"sha256=" + b"0f" * 32
for name, value in {
    "hex": good_hex,
    "base64": good_b64,
    "base64_unpadded": good_b64.rstrip(b"="),
    "timestamped": good_ts,
    "v1_comma": b"v1,",
    "v1_comma_then_empty": b"v1,\n",
    "prefix_only": b"sha256=",
    "empty": b"",
    "decoy_then_good_one_header": decoy + b", " + good_hex,
    "decoy_then_good_two_headers": decoy + b"\n" + good_hex,
    "uppercase_hex": good_hex.upper(),
    "truncated": good_hex[:-1],
    "overlong": good_hex + b"00",
    "non_ascii": "sha256=\u00e9".encode(),
}.items():
    write("signature_header", name, value)

# signature_header, Standard Webhooks: `v1` and `v1a` entries over
# `msg_fuzz.1700000000.{body}`, with the target's secret and signing key. The `v1a` seeds
# need PyNaCl (tests/interop's virtual environment has it); without it they are kept.
STANDARD_CONTENT = b"msg_fuzz." + TIMESTAMP + b"." + activity
good_v1 = b"v1," + base64.b64encode(tag(STANDARD_CONTENT))
try:
    import nacl.signing
except ImportError:
    nacl = None
    print("PyNaCl is missing: the v1a seeds are left as they are")
if nacl is not None:
    signing_key = nacl.signing.SigningKey(b"hookguard-fuzz-ed25519-seed-0001")
    good_v1a = b"v1a," + base64.b64encode(signing_key.sign(STANDARD_CONTENT).signature)
    for name, value in {
        "standard_v1": good_v1,
        "standard_v1a": good_v1a,
        "standard_v1a_unpadded": good_v1a.rstrip(b"="),
        "standard_mixed": b"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " + good_v1a,
        "standard_v1a_decoys": b" ".join([b"v1a," + b"A" * 86] * 4 + [good_v1a]),
        "standard_v1a_truncated": good_v1a[:-3],
        "standard_v1a_as_v1": b"v1," + good_v1a[4:],
        "standard_v1a_alone": b"v1a,",
    }.items():
        write("signature_header", name, value)

# verify: a choice byte (scheme and secret length), the secret, two bytes, the body.
for i, (name, body) in enumerate(list(claimr.items()) + list(chainvine.items())):
    secret = bytes(range(1, (i * 7) % 64 + 2))
    choice = ((i % 3) << 6) | (len(secret) - 1)
    write("verify", name, bytes([choice]) + secret + bytes([i, 3]) + body)

# parse_claimr and parse_chainvine: the fixtures, and a few near misses.
for name, body in claimr.items():
    write("parse_claimr", name, body)
write("parse_claimr", "trailing_garbage", activity + b"garbage")
write("parse_claimr", "duplicate_scope", b'{"id":"1","scope":"user_login","scope":"referral"}')
write("parse_claimr", "numeric_id", b'{"id":12345678901234567890,"scope":"user_reward"}')
write("parse_claimr", "nested", b'{"id":"1","scope":"x","e":' + b"[" * 200 + b"]" * 200 + b"}")
for name, body in chainvine.items():
    write("parse_chainvine", name, body)
payment = chainvine["payment_request"]
write("parse_chainvine", "renamed_payment", payment.replace(b'"PAYMENT_REQUEST"', b'"PAYOUT_REQUESTED"'))
write("parse_chainvine", "amount_number", payment.replace(b'"15.000"', b"15.000"))
write("parse_chainvine", "data_first", chainvine["data_before_name"])

# layer: two choice bytes, then the body. 0xF4: claimr, POST, JSON, right signature;
# 0xF5 the same for ChainVine. 0x03: sent whole; 0x80 adds a Content-Length; 0x10 sends
# chunks of 5 bytes; 0x01 stalls; 0x02 fails.
for name, body in claimr.items():
    write("layer", "claimr_" + name, bytes([0xF4, 0x83]) + body)
for name, body in chainvine.items():
    write("layer", "chainvine_" + name, bytes([0xF5, 0x03]) + body)
write("layer", "chunked", bytes([0xF4, 0x10]) + activity)
write("layer", "stalled", bytes([0xF4, 0x11]) + activity)
write("layer", "failed", bytes([0xF4, 0x12]) + activity)
write("layer", "decoys", bytes([0xB4, 0x03]) + activity)
write("layer", "garbage_v1", bytes([0x74, 0x03]) + b"v1,\n" + activity)
write("layer", "unsigned", bytes([0x34, 0x03]) + activity)
write("layer", "get", bytes([0xF0, 0x03]) + activity)
write("layer", "text_plain", bytes([0xD4, 0x03]) + activity)
