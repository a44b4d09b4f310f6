"""What the apps above `leads` add to a lead's page: sections and timeline entries.

`leads` never imports the apps above it (privacy, engagement, sales, ...). They register here from their
`AppConfig.ready()`, and the lead page renders what is registered: a section is a template with its own
context; a timeline source returns entries that carry the template that renders them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Section:
    """A block on the lead page. `context(lead, user)` returns what `template` reads as `section`."""

    name: str
    template: str
    context: Callable[[Any, Any], dict]
    order: int = 100


@dataclass(frozen=True)
class TimelineEntry:
    type: str
    at: dt.datetime
    item: Any
    template: str = ""  # empty: the lead page renders the type itself (activities, transitions)


_sections: dict[str, Section] = {}
_queue_sections: dict[str, Section] = {}
_timeline_sources: dict[str, Callable[[Any], Iterable[TimelineEntry]]] = {}


def register_section(section: Section) -> None:
    _sections[section.name] = section


def register_queue_section(section: Section) -> None:
    """A block on "My queue": `context(user, today)` returns what `template` reads as `section` (e.g. the
    cadence tasks due today)."""
    _queue_sections[section.name] = section


def queue_sections_for(user, today) -> list[dict]:
    return [
        {"name": section.name, "template": section.template, "section": section.context(user, today)}
        for section in sorted(_queue_sections.values(), key=lambda section: (section.order, section.name))
    ]


def register_timeline(name: str, source: Callable[[Any], Iterable[TimelineEntry]]) -> None:
    _timeline_sources[name] = source


def sections_for(lead, user) -> list[dict]:
    """The registered sections, in order, each as {"name", "template", "section": its context}."""
    return [
        {"name": section.name, "template": section.template, "section": section.context(lead, user)}
        for section in sorted(_sections.values(), key=lambda section: (section.order, section.name))
    ]


def timeline_entries(lead) -> list[TimelineEntry]:
    return [entry for source in _timeline_sources.values() for entry in source(lead)]


# --- checks of new contact data (the lead edit asks the apps above, e.g. privacy's suppression list) ------

ContactCheck = Callable[..., dict[str, list[str]]]
_contact_checks: dict[str, ContactCheck] = {}


def register_contact_check(name: str, check: ContactCheck) -> None:
    """`check(email=..., phone=...)` returns field errors for contact data that may not be stored ("" when
    that field does not change)."""
    _contact_checks[name] = check


def contact_problems(*, email: str = "", phone: str = "") -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    for check in _contact_checks.values():
        for field, messages in check(email=email, phone=phone).items():
            problems.setdefault(field, []).extend(messages)
    return problems
