"""Request bodies past their route's limit are refused (413) before they are read.

An unsigned 100 MB POST to a webhook was once read whole before its 403;
the web process answering it is the one answering Twilio.
"""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from hotline.app import DEFAULT_MAX_BYTES, WEBHOOK_MAX_BYTES
from hotline.console import uploads
from tests.support.console import login

HUNDRED_MB = 100 * 1024 * 1024


class CountingStream(io.RawIOBase):
    """A body of ``size`` bytes that is never held in memory, counting what is read of it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.position = 0
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True  # the test client measures the body by seeking to its end and back

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = base + offset
        return self.position

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        count = max(0, min(len(buffer), self.size - self.position))
        buffer[:count] = b"a" * count
        self.position += count
        self.read_bytes += count
        return count


def _post_stream(
    client, path: str, size: int, content_type: str = "application/x-www-form-urlencoded", method: str = "POST"
):
    stream = CountingStream(size)
    response = client.open(path, method=method, input_stream=stream, content_length=size, content_type=content_type)
    return response, stream


def test_a_100_mb_webhook_post_is_refused_unread(client):
    response, stream = _post_stream(client, "/twilio/sms", HUNDRED_MB)
    assert response.status_code == 413
    assert stream.read_bytes == 0


def test_a_webhook_just_over_its_limit_is_refused_and_a_normal_one_is_not(client):
    over, _ = _post_stream(client, "/twilio/sms", WEBHOOK_MAX_BYTES + 1)
    assert over.status_code == 413
    normal = client.post("/twilio/sms", data={"From": "+8613800000000", "Body": "收到" * 800})
    assert normal.status_code == 403  # unsigned: refused for its signature, not its size


def test_console_forms_and_the_api_have_a_small_limit(console, world):
    login(console, "a_staff")
    response, stream = _post_stream(console, "/logout", DEFAULT_MAX_BYTES + 1)
    assert response.status_code == 413
    assert stream.read_bytes == 0
    assert "太大" in response.get_data(as_text=True)  # the console's own page, in Chinese
    api, _ = _post_stream(console, "/api/incidents", DEFAULT_MAX_BYTES + 1, method="GET")
    assert api.status_code == 413 and api.get_json()["status"] == 413


def test_uploads_may_reach_the_upload_cap_and_no_further(console, world):
    login(console, "a_staff")
    # Past the cap: refused before a byte is read, with the upload page's message.
    response, stream = _post_stream(
        console, "/directory/import", uploads.MAX_REQUEST_BYTES + 1, "multipart/form-data; boundary=x"
    )
    assert response.status_code == 413 and stream.read_bytes == 0
    assert "10 MB" in response.get_data(as_text=True)
    # Larger than other forms may be, an upload still reaches the view.
    data = "村,小组,姓名,电话,角色\n" + "东村,一组,张三,13800138000,求助户\n" * 4000
    assert len(data.encode()) > DEFAULT_MAX_BYTES
    page = console.post(
        "/directory/import",
        data={"file": (io.BytesIO(data.encode()), "big.csv")},
        content_type="multipart/form-data",
    )
    assert page.status_code != 413


@pytest.fixture
def served(app) -> Iterator[tuple[str, int]]:
    """The app on a real socket (werkzeug's threaded server)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "127.0.0.1", server.port
    server.shutdown()
    thread.join(5)


def _status_line(connection: socket.socket) -> str:
    received = b""
    while b"\r\n" not in received:
        chunk = connection.recv(4096)
        if not chunk:
            break
        received += chunk
    return received.split(b"\r\n", 1)[0].decode()


def test_over_a_socket_a_declared_100_mb_body_is_answered_before_it_is_sent(served):
    host, port = served
    with socket.create_connection((host, port), timeout=5) as connection:
        connection.sendall(
            b"POST /twilio/sms HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            + f"Content-Length: {HUNDRED_MB}\r\n\r\n".encode()
            + b"From=%2B8613800000000&Body="
        )
        # Nothing more is sent: the answer comes from the headers alone.
        assert " 413 " in _status_line(connection)


def test_over_a_socket_a_chunked_body_is_cut_off_at_the_limit(served):
    host, port = served
    chunk = b"a" * 8192
    sent = 0
    with socket.create_connection((host, port), timeout=5) as connection:
        connection.sendall(
            b"POST /twilio/sms HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n"
            # A forged signature: checking it means reading the form.
            b"X-Twilio-Signature: c2lnbmF0dXJl\r\n\r\n"
        )
        connection.settimeout(0.05)
        status = ""
        while sent < 4 * 1024 * 1024:
            try:
                connection.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
            try:
                status = _status_line(connection)
                break
            except TimeoutError:
                continue
        connection.settimeout(5)
        if not status:
            status = _status_line(connection)
    assert " 413 " in status
    # Refused once the limit was passed, not after the whole body.
    assert sent < WEBHOOK_MAX_BYTES + 256 * 1024


def test_over_a_socket_a_small_chunked_webhook_still_reaches_its_handler(served):
    from urllib.parse import urlencode

    from tests.factories import PUBLIC_URL, message_sid, sign

    host, port = served
    params = {"MessageSid": message_sid(), "From": "+8613800000000", "To": "+8657188880000", "Body": "收到"}
    body = urlencode(params).encode()
    half = len(body) // 2
    with socket.create_connection((host, port), timeout=5) as connection:
        connection.sendall(
            b"POST /twilio/sms HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n"
            + f"X-Twilio-Signature: {sign(PUBLIC_URL + '/twilio/sms', params)}\r\n\r\n".encode()
            + f"{half:x}\r\n".encode() + body[:half] + b"\r\n"
            + f"{len(body) - half:x}\r\n".encode() + body[half:] + b"\r\n0\r\n\r\n"
        )
        assert " 200 " in _status_line(connection)
