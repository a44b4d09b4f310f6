"""The one JSON parser of the API: every body is checked before any code of ours sees it.

`SafeJSONParser` (the default parser class of every API view) answers 400 `{"errors": {...}}` naming the
problem, instead of passing on what Python, PostgreSQL or the renderer cannot take:

- a body larger than the view's limit (`max_body_bytes`, else `API_MAX_BODY_BYTES`): 413;
- bytes that are not UTF-8, or not JSON;
- nesting deeper than `MAX_DEPTH` (Python's recursion limit would raise, jsonb refuses far less deep);
- non-finite numbers (`NaN`, `Infinity`, `1e400`): jsonb has no such value;
- NUL characters and lone surrogates in any string or key (text and jsonb columns refuse them, and a
  lone surrogate cannot be encoded to UTF-8 when the answer echoes it);
- anything but a JSON object at the top (`null`, arrays, numbers): every body of this API is an object.

Problems are named by their JSON path (`activity.kind`, `tags[2]`); keys are shown escaped.
"""

import json
import math

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.parsers import JSONParser

from core.errors import Invalid

MAX_DEPTH = 20


class BodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "body_too_large"


def _refuse(message: str, field: str = "non_field_errors"):
    raise Invalid({field: [message]})


def printable(key) -> str:
    """A key as it can be shown safely: control characters and lone surrogates escaped."""
    text = str(key)
    if all(" " <= ch and not ("\ud800" <= ch <= "\udfff") for ch in text):
        return text
    return "".join(ch if " " <= ch and not ("\ud800" <= ch <= "\udfff") else f"\\u{ord(ch):04x}" for ch in text)


def bad_text(value: str) -> str | None:
    """Why a string cannot be stored (a NUL, a lone surrogate), or None."""
    if "\x00" in value:
        return _("Remove the NUL character (\\u0000).")
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        return _("Remove the invalid character (a lone surrogate).")
    return None


def check_value(value, *, max_depth: int = MAX_DEPTH) -> None:
    """Walk a parsed JSON value once (iteratively); raise Invalid naming the first bad place."""
    stack = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > max_depth:
            _refuse(_("The JSON is nested too deeply (at most %(depth)s levels).") % {"depth": max_depth})
        if isinstance(item, dict):
            for key, inner in item.items():
                name = f"{path}.{printable(key)}" if path else printable(key)
                problem = bad_text(key)
                if problem:
                    _refuse(problem, name)
                stack.append((inner, name, depth + 1))
        elif isinstance(item, list):
            for index, inner in enumerate(item):
                stack.append((inner, f"{path}[{index}]", depth + 1))
        elif isinstance(item, str):
            problem = bad_text(item)
            if problem:
                _refuse(problem, path or "non_field_errors")
        elif isinstance(item, float) and not math.isfinite(item):
            _refuse(_("Send a finite number."), path or "non_field_errors")


def _constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


def loads(raw: bytes):
    """Parse and check a JSON document (any top-level value)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        _refuse(_("The body is not valid UTF-8."))
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        value = json.loads(text, parse_constant=_constant)
    except RecursionError:
        _refuse(_("The JSON is nested too deeply (at most %(depth)s levels).") % {"depth": MAX_DEPTH})
    except ValueError as error:
        _refuse(_("The body is not valid JSON: %(error)s") % {"error": printable(str(error))[:200]})
    check_value(value)
    return value


def body_limit(view) -> int:
    return getattr(view, "max_body_bytes", None) or settings.API_MAX_BODY_BYTES


def read_limited(stream, limit: int, declared) -> bytes:
    """At most `limit` bytes of the stream; more (or a larger Content-Length) is a 413."""
    too_large = _("The body is larger than %(limit)s bytes.") % {"limit": limit}
    try:
        if declared is not None and int(declared) > limit:
            raise BodyTooLarge(too_large)
    except ValueError:
        pass
    raw = stream.read(limit + 1) if stream is not None else b""
    if len(raw) > limit:
        raise BodyTooLarge(too_large)
    return raw


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        context = parser_context or {}
        request = context.get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        raw = read_limited(stream, body_limit(context.get("view")), declared or None)
        if not raw.strip():
            return {}
        value = loads(raw)
        if not isinstance(value, dict):
            _refuse(_("Send a JSON object."))
        return value
