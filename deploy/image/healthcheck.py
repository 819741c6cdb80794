"""The container health check: one HTTP request to the unit's readiness endpoint.

Docker runs it every few seconds in every unit container, so it costs a Python start with
no site-packages (`python3 -I -S`) and the standard library's `socket` alone: no backend
import, no urllib (which pulls in email, ssl and http parsing). Exit 0 when the unit answers
200, 1 otherwise, with the reason on stderr (Docker keeps it in the health log).

The URL comes from `BACKSTAGE_HEALTHCHECK_URL` (default the readiness endpoint on
127.0.0.1:7007); only plain `http://host[:port]/path` URLs, since the check never leaves
the container.
"""

from __future__ import annotations

import os
import socket
import sys
import time

DEFAULT_URL = "http://127.0.0.1:7007/.backstage/health/v1/readiness"
# The Dockerfile's and Compose's health check timeout is 3 s: answer before Docker gives up.
TIMEOUT_SECONDS = 2.5
# A status line is short; anything longer is not the backend answering.
MAX_STATUS_LINE = 1024


def parse_url(url: str) -> tuple[str, int, str]:
    """Host, port and path of a plain `http://` URL; ValueError for anything else."""
    if not url.startswith("http://"):
        raise ValueError(f"{url!r}: only http:// URLs are supported")
    rest = url[len("http://") :]
    authority, slash, path = rest.partition("/")
    path = slash + path if slash else "/"
    if authority.startswith("["):
        host, bracket, port_text = authority[1:].partition("]")
        if not bracket or (port_text and not port_text.startswith(":")):
            raise ValueError(f"{url!r}: malformed IPv6 host")
        port_text = port_text[1:]
    else:
        host, _, port_text = authority.partition(":")
    if not host or any(c in authority for c in "@ \t\r\n"):
        raise ValueError(f"{url!r}: malformed host")
    if any(c in path for c in " \t\r\n"):
        raise ValueError(f"{url!r}: malformed path")
    port = int(port_text) if port_text else 80
    if not 0 < port < 65536:
        raise ValueError(f"{url!r}: port out of range")
    return host, port, path


def status_of(url: str, timeout: float = TIMEOUT_SECONDS) -> int:
    """The HTTP status the server at `url` answers a GET with."""
    host, port, path = parse_url(url)
    deadline = time.monotonic() + timeout
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {authority}\r\n"
        "User-Agent: backstage-py-healthcheck\r\nConnection: close\r\n\r\n"
    ).encode("ascii")
    with socket.create_connection((host, port), timeout=timeout) as connection:
        connection.sendall(request)
        received = b""
        while b"\r\n" not in received:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no status line in time")
            connection.settimeout(remaining)
            chunk = connection.recv(256)
            if not chunk:
                break
            received += chunk
            if len(received) > MAX_STATUS_LINE:
                break
    line = received.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP answer: {line[:80]!r}")
    return int(parts[1])


def main() -> int:
    url = os.environ.get("BACKSTAGE_HEALTHCHECK_URL") or DEFAULT_URL
    try:
        status = status_of(url)
    except (OSError, ValueError) as error:
        print(f"{url}: {error}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"{url}: status {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
