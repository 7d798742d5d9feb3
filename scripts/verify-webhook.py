#!/usr/bin/env python3
"""Checks one orderd webhook delivery the way a receiver should: the example in docs/design.md, run as it is shown.

    scripts/verify-webhook.py --secret-file FILE --header 'X-Orderd-Signature value' [--body-file FILE] [--now UNIX]

The body is read from --body-file, else from standard input, as raw bytes (verify the bytes you received,
before parsing them). Exit status 0: the signature is valid and `t` is within 5 minutes of now (or --now);
1: it is not (a message on stderr says so); 2: bad arguments.
"""

import argparse
import sys

# --- the example in docs/design.md, "Verifying webhooks" (keep the two identical) ---
import hashlib, hmac, time

def verify(secret: bytes, header: str, body: bytes, now: float | None = None, tolerance: int = 300) -> bool:
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    t, v1 = fields.get("t", ""), fields.get("v1", "")
    if not t.isdigit() or abs((time.time() if now is None else now) - int(t)) > tolerance:
        return False  # no timestamp, or outside the replay window
    expected = hmac.new(secret, t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, v1)
# --- end of the example ---


def read_secret(path):
    """The secret as orderd reads it: the file's bytes without one trailing newline."""
    with open(path, "rb") as f:
        data = f.read()
    return data[:-2] if data.endswith(b"\r\n") else data[:-1] if data.endswith(b"\n") else data


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--secret-file", required=True, help="the file task.webhook.secret_file names")
    parser.add_argument("--header", required=True, help="the X-Orderd-Signature header's value")
    parser.add_argument("--body-file", help="the raw body (default: standard input)")
    parser.add_argument("--now", type=float, help="check as of this unix time (default: now)")
    args = parser.parse_args()
    secret = read_secret(args.secret_file)
    if args.body_file:
        with open(args.body_file, "rb") as f:
            body = f.read()
    else:
        body = sys.stdin.buffer.read()
    if verify(secret, args.header, body, now=args.now):
        print("valid")
        return 0
    print("invalid: wrong signature, or t outside the 5-minute replay window", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
