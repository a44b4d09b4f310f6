"""One family of domain errors, raised by services and mapped to responses once: for HTML views by
`core.middleware.DomainErrorMiddleware`, for the API by `core.api.exception_handler`.

| error | means | HTML | API |
|---|---|---|---|
| `NotFound` | no such object, or one the caller may not see | 404 page | 404 `{"detail"}` |
| `NotPermitted` | the caller sees it but may not do this | 403 page | 403 `{"detail"}` |
| `Invalid` | input that does not parse or validate | 400 | 400 `{"errors": {field: [messages]}}` |
| `Refused` | valid and permitted, but unmet conditions | 409 | 409 `{"detail", "unmet": [{"code", "message"}]}` |
| `Conflict` | the state changed under the caller (taken, in progress, duplicate) | 409 | 409 `{"detail"}` (+ `data`) |
| `Stale` | the caller's version is not the current one (`If-Match`, a form's version) | 412 | 412 `{"detail"}` |

Every error carries `message`, the sentence a user reads; `Invalid` adds `errors` by field, `Refused` its
`unmet` items, `Conflict` optional `data` the answer adds (e.g. the other lead of a duplicate).
Subclasses name the situation (`LeadNotFound`, `TransitionRefused`) but add nothing to
carry: whoever maps an error needs only the six bases.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Unmet:
    """One condition a refused action did not meet: a stable code and a sentence for the user."""

    code: str
    message: str

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


class DomainError(Exception):
    status = 400

    def __init__(self, message: str = ""):
        super().__init__(message)
        self.message = str(message)

    def __str__(self) -> str:
        return self.message

    @property
    def detail(self) -> str:
        return self.message


class NotFound(DomainError):
    status = 404


class NotPermitted(DomainError):
    status = 403


class Invalid(DomainError):
    """Field errors: `{"field": ["message", ...]}` (`non_field_errors` for the request as a whole)."""

    status = 400

    def __init__(self, errors: dict[str, list[str]], message: str = ""):
        self.errors = {str(field): [str(text) for text in texts] for field, texts in errors.items()}
        first = next((texts[0] for texts in self.errors.values() if texts), "")
        super().__init__(message or first)

    @classmethod
    def field(cls, name: str, message: str) -> "Invalid":
        return cls({name: [message]})


class Refused(DomainError):
    status = 409

    def __init__(self, message: str, unmet: list[Unmet] | tuple[Unmet, ...] = ()):
        super().__init__(message)
        self.unmet = list(unmet)


class Conflict(DomainError):
    status = 409

    def __init__(self, message: str = "", data: dict | None = None):
        super().__init__(message)
        self.data = dict(data or {})


class Stale(DomainError):
    """The object changed since the caller read it (a stale `If-Match` or form version): nothing written."""

    status = 412
