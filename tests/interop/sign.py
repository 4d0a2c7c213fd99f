"""Signs and verifies Standard Webhooks deliveries with the reference Python library
(`standardwebhooks`) and Svix's (`svix`), for hookguard's interop test (tests/interop.rs).

Reads a job from stdin and writes the result to stdout, both JSON:

    {"sign":   [{"lib": "standardwebhooks" | "svix", "secret": "whsec_...", "id": "msg_...",
                 "timestamp": 1700000000, "payload": "..."}],
     "verify": [{"lib": ..., "secret": ..., "id": ..., "timestamp": ..., "payload": ...,
                 "signature": "v1,..."}]}
    ->
    {"signed": ["v1,...", ...], "verified": [true | false, ...], "versions": {...}}

Asymmetric (`v1a`, ed25519) signatures are made and checked with PyNaCl (libsodium),
imported only for these jobs:

    {"sign_v1a":   [{"signing_key": "whsk_<base64 32-byte seed>", "id": ..., "timestamp": ...,
                     "payload": ...}],
     "verify_v1a": [{"public_key": "whpk_...", "id": ..., "timestamp": ..., "payload": ...,
                     "signature": "v1a,... [more entries, space-separated]"}]}
    ->
    {"signed_v1a": [{"signature": "v1a,...", "public_key": "whpk_..."}, ...],
     "verified_v1a": [true | false, ...], "versions": {..., "PyNaCl": ...}}
"""

import base64

import json
import sys
from datetime import datetime, timezone
from importlib.metadata import version

from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError
from svix.webhooks import Webhook as SvixWebhook

LIBS = {"standardwebhooks": StandardWebhook, "svix": SvixWebhook}


def sign(item):
    webhook = LIBS[item["lib"]](item["secret"])
    timestamp = datetime.fromtimestamp(item["timestamp"], tz=timezone.utc)
    return webhook.sign(item["id"], timestamp, item["payload"])


def verify(item):
    webhook = LIBS[item["lib"]](item["secret"])
    headers = {
        "webhook-id": item["id"],
        "webhook-timestamp": str(item["timestamp"]),
        "webhook-signature": item["signature"],
    }
    try:
        webhook.verify(item["payload"], headers)
    except WebhookVerificationError:
        return False
    return True


def signed_content(item):
    return f"{item['id']}.{item['timestamp']}.{item['payload']}".encode()


def unprefixed(text, prefix):
    return text[len(prefix):] if text.startswith(prefix) else text


def sign_v1a(item):
    import nacl.signing

    seed = base64.b64decode(unprefixed(item["signing_key"], "whsk_"))
    key = nacl.signing.SigningKey(seed)
    signature = key.sign(signed_content(item)).signature
    return {
        "signature": "v1a," + base64.b64encode(signature).decode(),
        "public_key": "whpk_" + base64.b64encode(bytes(key.verify_key)).decode(),
    }


def verify_v1a(item):
    import nacl.exceptions
    import nacl.signing

    key = nacl.signing.VerifyKey(base64.b64decode(unprefixed(item["public_key"], "whpk_")))
    for entry in item["signature"].split(" "):
        label, _, signature = entry.partition(",")
        if label != "v1a":
            continue
        try:
            key.verify(signed_content(item), base64.b64decode(signature))
            return True
        except (nacl.exceptions.BadSignatureError, ValueError):
            continue
    return False


def main():
    job = json.load(sys.stdin)
    result = {
        "signed": [sign(item) for item in job.get("sign", [])],
        "verified": [verify(item) for item in job.get("verify", [])],
        "signed_v1a": [sign_v1a(item) for item in job.get("sign_v1a", [])],
        "verified_v1a": [verify_v1a(item) for item in job.get("verify_v1a", [])],
        "versions": {name: version(name) for name in LIBS},
    }
    if "sign_v1a" in job or "verify_v1a" in job:
        result["versions"]["PyNaCl"] = version("PyNaCl")
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
