#!/usr/bin/env python3
"""A scriptable HTTP gateway on loopback, standing in for the SMS gateway and webhook receivers in tests and
`make bench`. Python 3.11 standard library only.

    scripts/test-gateway.py --port 0 [--host 127.0.0.1] [--mode ok|fail|hang|close|flaky|slow] [--delay SECONDS]
                            [--status NNN] [--fail-every N] [--record FILE] [--stop-on-stdin-eof]
                            [--require-header 'Name: value' [--auth-path /sms]...]
                            [--webhook-secret-file FILE [--signed-path /hook]...]

It binds (`--port 0`: a free port the kernel picks), prints exactly one line `LISTENING <port>` to stdout,
flushes, and serves until SIGTERM or SIGINT (exit status 0). With `--stop-on-stdin-eof` it also stops when its
standard input reaches end of file: a harness that hands it a pipe cannot leave it behind, even if it crashes.

Deliveries: a POST to any path not starting with `/_` (`/sms`, `/hooks/orders`, ...). The body is read in full
(Content-Length, or chunked), recorded, and then answered according to the mode in force when it arrived:

    ok     200 {"status":"sent"}, after `delay` seconds when delay > 0
    slow   an alias of ok; give it a delay
    fail   `status` (default 503) with {"status":"failed","error":"..."}, after `delay` seconds when delay > 0
    hang   no answer at all: the connection stays open until the client gives up (closes it) or the gateway
           shuts down. A hung request ties up only its own thread.
    close  the connection is closed without a single byte of response
    flaky  every `fail_every`-th delivery (default 2: the 2nd, 4th, ...) since the mode was set is answered as
           `fail`, the others as `ok`

Credentials, checked on arrival before the mode decides (a failed check is recorded and answered 401
{"status":"unauthorized",...} whatever the mode, as a real gateway or receiver would):

    --require-header 'Name: value'   deliveries to an --auth-path (default /sms) must carry exactly this header;
                                     recorded as "auth": "ok", "missing" or "wrong" (null on other paths).
                                     POST /_auth?header=<Name: value, URL-encoded> changes it; an empty header
                                     turns the check off.
    --webhook-secret-file FILE       deliveries to a --signed-path (default /hook) must carry a valid
                                     X-Orderd-Signature for FILE's secret, checked with verify() from
                                     scripts/verify-webhook.py (the example in docs/design.md); recorded as "signature":
                                     "ok", "missing" or "invalid" (null on other paths).

A request with another method to such a path gets 405. "Connection refused" is not a mode: stop the gateway
(SIGTERM) or point the client at a port nothing listens on.

Each delivery is recorded as
    {"seq": n, "path": "/sms", "idempotency_key": <Idempotency-Key header or null>,
     "body": <the body parsed as JSON, else the raw text>, "received_at": <unix time, float>,
     "answered": <the status the gateway answers with, decided on arrival; null for hang and close>,
     "auth": <see --require-header>, "signature": <see --webhook-secret-file>}
(plus "signature_header" and "raw_body", as received, on a signed path)
in memory and, with `--record FILE`, as one JSON line appended to FILE (flushed at arrival, before the answer), so
a test can read what arrived even after killing the gateway. `seq` starts at 1 and never goes back, not even on
/_reset.

Control endpoints (any method, JSON answers):

    GET  /_received[?since=K]   {"count": n, "deliveries": [...]}, only seq > K with `since`
    POST /_mode?mode=M&delay=S&status=NNN&fail_every=N
                                sets the whole behaviour (a parameter left out takes its default: mode ok,
                                delay 0, status 503, fail_every 2) and answers the new settings; 400 on bad values
    GET  /_mode                 the current settings
    POST /_reset                forgets the recorded deliveries (the record file is left alone)
    POST /_auth?header=H         sets the header --require-header asks for (empty: no check)
    GET  /_stats                {"count": n, "distinct_keys": k, "duplicates": deliveries whose idempotency key
                                 was seen before, "by_path": {"/sms": n, ...}, "by_status": {"200": n, ...,
                                 "none": n}, "auth_failures": n, "signature_failures": n, "seq": last seq}

Concurrency: ThreadingHTTPServer with daemon threads and a listen backlog of 1024, HTTP/1.1 keep-alive (every
answer carries Content-Length), so a few hundred concurrent slow requests are fine. No per-request logging.
"""

import argparse
import importlib.util
import json
import os
import select
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MODES = ("ok", "fail", "hang", "close", "flaky")


def load_verifier():
    """scripts/verify-webhook.py as a module: the receivers' example itself checks every signature here."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "verify-webhook.py")
    spec = importlib.util.spec_from_file_location("verify_webhook", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
DEFAULTS = {"mode": "ok", "delay": 0.0, "status": 503, "fail_every": 2}


class Gateway:
    """Behaviour settings and recorded deliveries, shared by all handler threads."""

    def __init__(self, settings, record_path, auth=None, webhook=None):
        self.lock = threading.Lock()
        # auth: {"header": (name, value) or None, "paths": [...]}; webhook: {"secret": bytes, "paths": [...],
        # "verify": the verifier module} or None.
        self.auth = auth or {"header": None, "paths": []}
        self.webhook = webhook
        self.settings = dict(settings)
        self.flaky_count = 0
        self.seq = 0
        self.deliveries = []
        self.record = open(record_path, "a", encoding="utf-8") if record_path else None
        self.stopping = threading.Event()

    def set_settings(self, settings):
        with self.lock:
            self.settings = dict(settings)
            self.flaky_count = 0
            return dict(self.settings)

    def current_settings(self):
        with self.lock:
            return dict(self.settings)

    def set_auth(self, header):
        with self.lock:
            self.auth["header"] = header
            return {"header": None if header is None else header[0], "paths": self.auth["paths"]}

    def check(self, path, headers, raw):
        """(auth, signature): each "ok", "missing", "wrong"/"invalid", or None when the path is not checked."""
        auth = signature = None
        required = self.auth["header"]
        if required is not None and path in self.auth["paths"]:
            got = headers.get_all(required[0]) or []
            auth = "missing" if not got else "ok" if got == [required[1]] else "wrong"
        if self.webhook is not None and path in self.webhook["paths"]:
            header = headers.get("X-Orderd-Signature")
            if header is None:
                signature = "missing"
            else:
                valid = self.webhook["verify"].verify(self.webhook["secret"], header, raw)
                signature = "ok" if valid else "invalid"
        return auth, signature

    def arrive(self, path, key, body, headers=None, raw=b""):
        """Records a delivery and decides how to answer it: (action, status, delay, record)."""
        with self.lock:
            auth, signature = self.check(path, headers, raw) if headers is not None else (None, None)
            s = self.settings
            mode = s["mode"]
            if auth not in (None, "ok") or signature not in (None, "ok"):
                action = "unauthorized"
            elif mode == "flaky":
                self.flaky_count += 1
                action = "fail" if self.flaky_count % s["fail_every"] == 0 else "ok"
            else:
                action = mode
            status = {"ok": 200, "fail": s["status"], "unauthorized": 401}.get(action)
            self.seq += 1
            entry = {"seq": self.seq, "path": path, "idempotency_key": key, "body": body,
                     "received_at": time.time(), "answered": status, "auth": auth, "signature": signature}
            if signature is not None:
                entry["signature_header"] = headers.get("X-Orderd-Signature")
                entry["raw_body"] = raw.decode("utf-8", errors="replace")
            self.deliveries.append(entry)
            if self.record is not None:
                self.record.write(json.dumps(entry, separators=(",", ":")) + "\n")
                self.record.flush()
            return action, status, s["delay"], entry

    def received(self, since):
        with self.lock:
            chosen = [d for d in self.deliveries if d["seq"] > since]
            return {"count": len(chosen), "deliveries": chosen}

    def reset(self):
        with self.lock:
            self.deliveries = []
            return {"count": 0, "seq": self.seq}

    def stats(self):
        with self.lock:
            seen, duplicates, by_path, by_status = set(), 0, {}, {}
            for d in self.deliveries:
                key = d["idempotency_key"]
                if key is not None:
                    if key in seen:
                        duplicates += 1
                    seen.add(key)
                by_path[d["path"]] = by_path.get(d["path"], 0) + 1
                answered = "none" if d["answered"] is None else str(d["answered"])
                by_status[answered] = by_status.get(answered, 0) + 1
            return {"count": len(self.deliveries), "distinct_keys": len(seen), "duplicates": duplicates,
                    "by_path": by_path, "by_status": by_status, "seq": self.seq,
                    "auth_failures": sum(1 for d in self.deliveries if d["auth"] not in (None, "ok")),
                    "signature_failures": sum(1 for d in self.deliveries if d["signature"] not in (None, "ok"))}


def parse_settings(query):
    """/_mode's query string to a full settings dict; raises ValueError on a bad value."""
    def one(name):
        values = query.get(name)
        return values[-1] if values else None

    mode = one("mode") or DEFAULTS["mode"]
    if mode == "slow":
        mode = "ok"
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, slow")
    delay = float(one("delay")) if one("delay") is not None else DEFAULTS["delay"]
    if not 0 <= delay <= 3600:
        raise ValueError("delay must be between 0 and 3600 seconds")
    status = int(one("status")) if one("status") is not None else DEFAULTS["status"]
    if not 100 <= status <= 599:
        raise ValueError("status must be between 100 and 599")
    fail_every = int(one("fail_every")) if one("fail_every") is not None else DEFAULTS["fail_every"]
    if fail_every < 1:
        raise ValueError("fail_every must be at least 1")
    return {"mode": mode, "delay": delay, "status": status, "fail_every": fail_every}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # http.server writes headers and body in two send()s; with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms on a kept-alive connection), so "instant" would not be instant.
    disable_nagle_algorithm = True

    def version_string(self):
        return "orderd-test-gateway"

    def log_message(self, format, *args):  # quiet: no per-request lines on stderr
        pass

    @property
    def gateway(self):
        return self.server.gateway

    def do_any(self):
        target = urlsplit(self.path)
        try:
            body = self.read_body()
        except ValueError as error:
            self.close_connection = True
            return self.answer(400, {"error": str(error)})
        if target.path.startswith("/_"):
            return self.control(target.path, parse_qs(target.query))
        if self.command != "POST":
            return self.answer(405, {"error": "deliveries are POSTs"}, extra={"Allow": "POST"})
        self.deliver(target.path, body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_any

    def do_HEAD(self):
        self.read_body()
        self.answer(405, None, extra={"Allow": "POST"})

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        length = int(length)
        if length < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(length)

    def answer(self, status, payload, extra=None):
        data = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        try:
            self.send_response(status)
            if payload is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except OSError:  # the client gave up first
            self.close_connection = True

    def deliver(self, path, raw):
        text = raw.decode("utf-8", errors="replace")
        try:
            body = json.loads(text)
        except ValueError:
            body = text
        action, status, delay, entry = self.gateway.arrive(
            path, self.headers.get("Idempotency-Key"), body, headers=self.headers, raw=raw)
        if action == "hang":
            self.hang()
            return
        if action == "close":
            self.close_connection = True  # finish() closes the socket; nothing was written
            return
        if delay > 0 and self.gateway.stopping.wait(delay):
            self.close_connection = True  # shutting down mid-delay: drop it
            return
        if action == "unauthorized":
            self.answer(401, {"status": "unauthorized", "auth": entry["auth"], "signature": entry["signature"]},
                        extra={"WWW-Authenticate": "Bearer"})
        elif action == "ok":
            self.answer(200, {"status": "sent"})
        else:
            self.answer(status, {"status": "failed", "error": f"test gateway answers {status} (mode fail)",
                                 "seq": entry["seq"]})

    def hang(self):
        """Holds the connection without answering until the client closes it or the gateway stops."""
        self.close_connection = True
        sock = self.connection
        while not self.gateway.stopping.is_set():
            try:
                readable, _, _ = select.select([sock], [], [], 0.25)
                if readable and sock.recv(4096, socket.MSG_PEEK) == b"":
                    return  # the client gave up
                if readable:
                    sock.recv(4096)  # anything further it sends (a pipelined request) is ignored too
            except (OSError, ValueError):
                return

    def control(self, path, query):
        gw = self.gateway
        if path == "/_received":
            try:
                since = int(query.get("since", ["0"])[-1])
            except ValueError:
                return self.answer(400, {"error": "since must be an integer"})
            return self.answer(200, gw.received(since))
        if path == "/_mode":
            if self.command == "GET" and not query:
                return self.answer(200, gw.current_settings())
            try:
                settings = parse_settings(query)
            except ValueError as error:
                return self.answer(400, {"error": str(error)})
            return self.answer(200, gw.set_settings(settings))
        if path == "/_reset":
            return self.answer(200, gw.reset())
        if path == "/_auth":
            text = query.get("header", [""])[-1]
            try:
                header = parse_header(text) if text else None
            except ValueError as error:
                return self.answer(400, {"error": str(error)})
            return self.answer(200, gw.set_auth(header))
        if path == "/_stats":
            return self.answer(200, gw.stats())
        return self.answer(404, {"error": f"no control endpoint {path}",
                                 "endpoints": ["/_received", "/_mode", "/_reset", "/_stats", "/_auth"]})


def parse_header(text):
    """'Name: value' to (name, value); raises ValueError."""
    name, colon, value = text.partition(":")
    if not colon or not name.strip():
        raise ValueError("a header is 'Name: value'")
    return name.strip(), value.strip()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], OSError):  # a client resetting its connection is no news
            super().handle_error(request, client_address)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 (default): a free one")
    parser.add_argument("--mode", default="ok", choices=MODES + ("slow",), help="initial mode (default ok)")
    parser.add_argument("--delay", default="0", metavar="SECONDS", help="before answering ok/fail (default 0)")
    parser.add_argument("--status", default="503", metavar="NNN", help="status of a failed delivery (default 503)")
    parser.add_argument("--fail-every", default="2", metavar="N", help="flaky: every N-th delivery fails (default 2)")
    parser.add_argument("--record", metavar="FILE", help="append one JSON line per delivery to FILE")
    parser.add_argument("--stop-on-stdin-eof", action="store_true", help="also stop when stdin is closed")
    parser.add_argument("--require-header", metavar="'NAME: VALUE'", help="deliveries to --auth-path must carry it")
    parser.add_argument("--auth-path", action="append", metavar="PATH", help="checked for the header (default /sms)")
    parser.add_argument("--webhook-secret-file", metavar="FILE", help="check X-Orderd-Signature on --signed-path")
    parser.add_argument("--signed-path", action="append", metavar="PATH", help="signature checked (default /hook)")
    args = parser.parse_args()
    try:
        settings = parse_settings({"mode": [args.mode], "delay": [args.delay], "status": [args.status],
                                   "fail_every": [args.fail_every]})
    except ValueError as error:
        parser.error(str(error))

    server = Server((args.host, args.port), Handler)
    try:
        auth = {"header": parse_header(args.require_header) if args.require_header else None,
                "paths": args.auth_path or ["/sms"]}
    except ValueError as error:
        parser.error(str(error))
    webhook = None
    if args.webhook_secret_file:
        verifier = load_verifier()
        webhook = {"secret": verifier.read_secret(args.webhook_secret_file), "paths": args.signed_path or ["/hook"],
                   "verify": verifier}
    server.gateway = Gateway(settings, args.record, auth=auth, webhook=webhook)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    # A parent may hand down a mask that blocks them (Foundation's Process does): the handlers would never run.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    if args.stop_on_stdin_eof:
        def watch_stdin():
            try:
                while os.read(0, 4096):  # not sys.stdin: its buffer lock would be held at interpreter exit
                    pass
            except OSError:
                pass
            stop.set()
        threading.Thread(target=watch_stdin, daemon=True).start()
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    serving.start()
    print(f"LISTENING {server.server_address[1]}", flush=True)
    while not stop.wait(0.5):
        pass
    server.gateway.stopping.set()  # releases hung and delayed requests
    server.shutdown()
    server.server_close()
    with server.gateway.lock:
        if server.gateway.record is not None:
            server.gateway.record.close()
            server.gateway.record = None
    return 0


if __name__ == "__main__":
    sys.exit(main())
