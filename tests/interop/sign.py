"""Signs and verifies Standard Webhooks deliveries with the reference Python library
(`standardwebhooks`) and Svix's (`svix`), for hookguard's interop test (tests/interop.rs).

Reads a job from stdin and writes the result to stdout, both JSON:

    {"sign":   [{"lib": "standardwebhooks" | "svix", "secret": "whsec_...", "id": "msg_...",
                 "timestamp": 1700000000, "payload": "..."}],
     "verify": [{"lib": ..., "secret": ..., "id": ..., "timestamp": ..., "payload": ...,
                 "signature": "v1,..."}]}
    ->
    {"signed": ["v1,...", ...], "verified": [true | false, ...], "versions": {...}}
"""

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


def main():
    job = json.load(sys.stdin)
    result = {
        "signed": [sign(item) for item in job.get("sign", [])],
        "verified": [verify(item) for item in job.get("verify", [])],
        "versions": {name: version(name) for name in LIBS},
    }
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
