"""A fake of Twilio's REST API on 127.0.0.1 that answers after a set latency and notes when each request arrived.

The carrier is outside the project: this stands in for it where a test
measures what the carrier sees (how many sends reach it in any one second,
and in what order), with worker subprocesses sending through the real Twilio
carrier pointed at it by ``HOTLINE_TWILIO_API_BASE``.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "0" * 32


@dataclass(frozen=True)
class Arrival:
    """One request as the carrier received it."""

    at: float  # time.time() when it arrived
    kind: str  # "sms" or "call"
    to: str


@dataclass
class FakeCarrier:
    latency: float
    arrivals: list[Arrival] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def sent_to(self, kind: str = "sms") -> list[str]:
        with self.lock:
            return [a.to for a in self.arrivals if a.kind == kind]

    def timeline(self) -> str:
        """When each request arrived, in seconds from the first, for a failed assertion's message."""
        with self.lock:
            start = min((a.at for a in self.arrivals), default=0.0)
            return " ".join(f"{a.at - start:.3f}:{a.to[-3:]}" for a in sorted(self.arrivals, key=lambda a: a.at))

    def busiest_second(self) -> int:
        """The most requests that arrived within any one second."""
        with self.lock:
            times = sorted(a.at for a in self.arrivals)
        busiest, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= 1.0:
                start += 1
            busiest = max(busiest, end - start + 1)
        return busiest


def _handler(carrier: FakeCarrier) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            arrived = time.time()
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            form = {key: values[0] for key, values in parse_qs(body).items()}
            kind = "call" if self.path.endswith("/Calls.json") else "sms"
            with carrier.lock:
                carrier.arrivals.append(Arrival(arrived, kind, form.get("To", "")))
            time.sleep(carrier.latency)
            prefix = "CA" if kind == "call" else "SM"
            payload = json.dumps({"sid": prefix + secrets.token_hex(16), "status": "queued",
                                  "account_sid": ACCOUNT_SID, "to": form.get("To")}).encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def fake_carrier(latency: float = 0.2) -> Iterator[FakeCarrier]:
    """Serve a fake Twilio REST API on a free port of 127.0.0.1 until the block ends."""
    carrier = FakeCarrier(latency)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(carrier))
    server.daemon_threads = True
    carrier.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield carrier
    finally:
        server.shutdown()
        server.server_close()


def twilio_env(carrier: FakeCarrier) -> dict[str, str]:
    """Settings that make the service send through Twilio's carrier to ``carrier``."""
    return {
        "HOTLINE_CARRIER": "twilio",
        "HOTLINE_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "HOTLINE_TWILIO_AUTH_TOKEN": "fake-carrier-token",
        "HOTLINE_TWILIO_NUMBER": "+8657188880000",
        "HOTLINE_TWILIO_API_BASE": carrier.url,
    }
