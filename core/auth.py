"""API authentication that refuses what is no credential before any lookup (imported by DRF's settings:
it must not import `rest_framework.views`)."""

import re

from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication, refusing (401) what is no token before any lookup: a header that is not
    printable ASCII (DRF would fail to encode it), or a key that is not 40 hexadecimal characters."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if isinstance(header, str) and not PRINTABLE_HEADER.match(header):
            if header.split(" ", 1)[0].lower() == self.keyword.lower():
                raise exceptions.AuthenticationFailed(_("Invalid token."))
            return None
        return super().authenticate(request)

    def authenticate_credentials(self, key):
        if not TOKEN_KEY.match(key):
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        return super().authenticate_credentials(key)


PRINTABLE_HEADER = re.compile(r"^[\x20-\x7e]*$")
TOKEN_KEY = re.compile(r"^[0-9a-f]{40}$")
