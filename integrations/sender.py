"""One HTTP POST to a checked target (`urls_check.Target`), connecting to the checked address itself (the
Host header and TLS server name stay the URL's host). No redirects are followed: http.client never follows
one, and a 3xx is reported as a failure by the caller. Reads at most `MAX_RESPONSE` bytes of the answer.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from integrations.urls_check import Target

MAX_RESPONSE = 64 * 1024
EXCERPT = 500
USER_AGENT = "Leadwerk-Webhooks/1"


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    body_excerpt: str
    error: str
    duration_ms: int


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host, port, *, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as http.client's own connect


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host, port, *, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(target: Target, *, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
    started = time.monotonic()
    error, status, excerpt = "", None, ""
    for address in target.addresses:
        kind = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
        connection = kind(target.host, target.port, address=address, timeout=timeout)
        try:
            connection.request(
                "POST", target.path, body=body,
                headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
            )
            response = connection.getresponse()
            status = response.status
            excerpt = response.read(MAX_RESPONSE).decode("utf-8", "replace")[:EXCERPT]
            error = ""
            break
        except TimeoutError:
            error = f"timed out after {timeout:g} s"
            break  # the receiver may have got it: do not send twice now, the retry will
        except ConnectionRefusedError:
            error = "connection refused"
        except ssl.SSLError as exc:
            error = f"TLS error: {exc.reason or exc}"[:300]
            break
        except (OSError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        finally:
            connection.close()
    return Outcome(status, excerpt, error, int((time.monotonic() - started) * 1000))
