"""Structured logs (LOG_FORMAT=json) and the request id.

`RequestIdMiddleware` gives every request an id (the proxy's `X-Request-ID` when it is a plain token, else a
new one), binds it to the log context of the request and answers it in `X-Request-ID`, so a line in the
proxy's log, the app's log and a user's report can be matched. With LOG_FORMAT=json every log record,
Django's and ours, is one JSON object per line (structlog's ProcessorFormatter over the standard logging)
with `timestamp`, `level`, `logger`, `event`, the request id and, for a request, one line when it finished
(method, route pattern, status, duration; never the path itself, which may hold a link's token).
"""

import logging
import re
import time
import uuid

import structlog
from django.conf import settings

_ACCEPTED_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
request_log = logging.getLogger("leadwerk.request")


def json_formatter() -> logging.Formatter:
    """The formatter of LOGGING["formatters"]["json"]."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(default=str),
        ],
    )


def request_id_of(request) -> str:
    offered = request.headers.get("X-Request-ID", "")
    return offered if _ACCEPTED_ID.match(offered) else uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id_of(request)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request.request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request.request_id
            if settings.LOG_FORMAT == "json":
                match = getattr(request, "resolver_match", None)  # the route, never a token in the path
                request_log.info("request finished", extra={
                    "method": request.method, "route": f"/{match.route}" if match else "(unresolved)",
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                })
            return response
        finally:
            structlog.contextvars.clear_contextvars()
