"""Where a webhook may go (server-side request forgery): `https` only in production, and never to a private,
loopback, link-local, reserved or multicast address. The host is resolved and every address it resolves to
is checked, when the subscription is saved and again at each send; the send connects to an address that
was checked (`sender`), so a DNS answer that changes between the check and the connect cannot redirect it.
Hosts in `WEBHOOK_ALLOWED_HOSTS` (a local CRM, the test receiver) skip the address check and may use http.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from core.errors import Invalid


class Refused(Invalid):
    """A URL webhooks may not be sent to; the message names `url`."""

    def __init__(self, message: str):
        super().__init__({"url": [message]})


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line
    addresses: tuple[str, ...]  # checked addresses; the sender connects to the first that answers


def _allowed_hosts() -> set[str]:
    return {host.lower() for host in settings.WEBHOOK_ALLOWED_HOSTS}


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast
        or ip.is_unspecified or not ip.is_global
    )


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    seen = []
    for info in infos:
        address = info[4][0]
        if address not in seen:
            seen.append(address)
    return seen


def check(url: str) -> Target:
    """The target of `url`, or `Refused` with a sentence naming `url`."""
    if not isinstance(url, str) or not url.strip():
        raise Refused(_("The url is required."))
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise Refused(_("The url is not a valid URL."))
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        raise Refused(_("The url must be an http or https URL with a host name."))
    if parts.username or parts.password:
        raise Refused(_("The url must not contain a user name or password."))
    allowed = host in _allowed_hosts()
    if scheme == "http" and not (allowed or settings.DEBUG):
        raise Refused(_("The url must use https (plain http only for hosts in WEBHOOK_ALLOWED_HOSTS)."))
    port = port or (443 if scheme == "https" else 80)
    addresses = resolve(host, port)
    if not addresses:
        raise Refused(_("The url's host name does not resolve."))
    if not allowed:
        blocked = [address for address in addresses if not is_public(address)]
        if blocked:
            raise Refused(
                _("The url points to a private, loopback, link-local or reserved address, which webhooks may not "
                  "reach (add the host to WEBHOOK_ALLOWED_HOSTS if it is yours).")
            )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme=scheme, host=host, port=port, path=path, addresses=tuple(addresses))
