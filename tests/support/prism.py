"""Twilio's REST API, mocked by Stoplight Prism from Twilio's own OpenAPI description.

Prism answers each request with the description's example reply when the
request is valid (201 and a SID) and with a 4xx when it is not, so a test can
check that what hotline sends is what Twilio accepts.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support import twilio_spec

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_ENV = "HOTLINE_TWILIO_OAI_SPEC"
PRISM_BIN_ENV = "HOTLINE_PRISM_BIN"
INSTALL_HINT = "npm install --prefix .prism @stoplight/prism-cli@5.14.2"


class PrismUnavailable(RuntimeError):
    """Prism or the API description is missing, or Prism did not start."""


def spec_path() -> Path:
    """The Twilio 2010 API description, prepared for mocking.

    ``HOTLINE_TWILIO_OAI_SPEC`` names a ready description to use as it is;
    without it, the one installed in ``.prism/`` is prepared there (see
    :mod:`support.twilio_spec`).

    Raises:
        PrismUnavailable: The named file does not exist, or the installed
            description is missing or cannot be prepared.
    """
    named = os.environ.get(SPEC_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise PrismUnavailable(f"Twilio API description not found at {path} (from {SPEC_ENV})")
        return path
    try:
        return twilio_spec.prepare()
    except twilio_spec.SpecUnavailable as missing:
        raise PrismUnavailable(f"{missing}\nor set {SPEC_ENV} to a prepared description.") from missing


def prism_bin() -> Path:
    """The prism executable.

    Raises:
        PrismUnavailable: It is not installed; the message says how to install it.
    """
    path = Path(os.environ.get(PRISM_BIN_ENV) or REPO_ROOT / ".prism" / "node_modules" / ".bin" / "prism")
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise PrismUnavailable(
            f"Stoplight Prism not found at {path}. In {REPO_ROOT} run:\n    {INSTALL_HINT}\n"
            f"or point {PRISM_BIN_ENV} at a prism executable."
        )
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(base_url: str) -> bool:
    try:
        urllib.request.urlopen(base_url + "/", timeout=1)
    except urllib.error.HTTPError:
        return True  # any HTTP reply, even Prism's 404 for "/", means it is serving
    except OSError:
        return False
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    # The prism script may run node in children of its own; signalling the
    # group (its own session, see start_new_session) reaches them too.
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except ProcessLookupError:
        process.wait()
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def running_prism(spec: Path | None = None, *, startup_timeout: float = 60.0) -> Iterator[str]:
    """Run ``prism mock`` on a free 127.0.0.1 port for the duration of the block.

    Args:
        spec: The OpenAPI description to serve; :func:`spec_path` by default.
        startup_timeout: Seconds to wait for Prism to answer (it takes a few
            to load Twilio's description).

    Yields:
        The mock's base URL, e.g. ``http://127.0.0.1:40123``.

    Raises:
        PrismUnavailable: Prism or the description is missing, or Prism exited
            or stayed silent during start-up (its log is in the message).
    """
    command = [str(prism_bin()), "mock", str(spec or spec_path()), "-h", "127.0.0.1"]
    with tempfile.TemporaryFile() as log:
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        process = subprocess.Popen(
            [*command, "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + startup_timeout
            while True:
                if process.poll() is not None:
                    failure = f"exited with status {process.returncode}"
                elif _answers(base_url):
                    break
                elif time.monotonic() > deadline:
                    failure = f"did not answer within {startup_timeout:.0f} s"
                else:
                    time.sleep(0.25)
                    continue
                log.seek(0)
                output = log.read().decode(errors="replace")[-4000:]
                raise PrismUnavailable(f"Prism {failure} ({' '.join(command)} -p {port}):\n{output}")
            yield base_url
        finally:
            _stop(process)
