"""Facts about the HTTP request that several interfaces need, read defensively: a header is the client's
word, so what cannot be stored (control characters, lone surrogates, a forwarded "address" that is none)
is dropped here, once."""

import ipaddress
import re

from django.conf import settings

_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
# What an Idempotency-Key may hold: printable ASCII (spaces included), 1 to 200 characters.
IDEMPOTENCY_KEY = re.compile(r"^[\x20-\x7e]{1,200}$")


def _address(value: str) -> str | None:
    """An IP address from a forwarded entry (`1.2.3.4`, `1.2.3.4:5678`, `[::1]`, `[::1]:443`), else None."""
    value = value.strip()
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:  # IPv4 with a port
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def site_url(request=None) -> str:
    """The base URL for links and snippets: SITE_URL when it is set, else the address this request reached
    (scheme and host, checked against ALLOWED_HOSTS), else the default SITE_URL (http://127.0.0.1:PORT)."""
    if settings.SITE_URL_IS_SET or request is None:
        return settings.SITE_URL
    return f"{request.scheme}://{request.get_host()}"


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or, behind TRUSTED_PROXY_COUNT proxies, the X-Forwarded-For
    entry the outermost trusted proxy added (entries further left can be forged by the client). An entry
    that is no IP address is ignored (REMOTE_ADDR is used instead)."""
    count = settings.TRUSTED_PROXY_COUNT
    if count:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= count:
            address = _address(forwarded[-count])
            if address:
                return address
    return _address(request.META.get("REMOTE_ADDR") or "")


def clean_header(value: str, limit: int) -> str:
    """A header value fit to store: control characters and lone surrogates removed, cut to `limit`."""
    return _CONTROL.sub("", value or "")[:limit]


def user_agent(request) -> str:
    return clean_header(request.META.get("HTTP_USER_AGENT", ""), 400)
