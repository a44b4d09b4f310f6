"""The SMTP sink of the engagement tests: aiosmtpd on a free loopback port, Django's SMTP backend on it."""

import asyncio
import socket

import pytest


class Sink:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp(settings):
    from aiosmtpd.controller import Controller

    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port(), loop=asyncio.new_event_loop())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", controller.port, False
    yield sink
    controller.stop()


@pytest.fixture(autouse=True)
def _english():
    """These tests read the English sentences; a request of an earlier test in the same worker may have left
    another language active in this thread (LocaleMiddleware activates it per request)."""
    from django.utils import translation

    with translation.override("en"):
        yield
