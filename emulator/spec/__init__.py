"""Discord's OpenAPI description, vendored (see README.md), and the hooks that let a checker see
every REST exchange and gateway dispatch the emulator makes.

The emulator calls :func:`observe_rest` and :func:`observe_dispatch`; they cost one list check
when nothing is installed. The checker itself (``emulator.spec.checker``, needing ``jsonschema``
and ``fastjsonschema``) is imported only by whoever installs an observer, e.g. the test suite's
plugin ``emulator.spec.pytest_plugin``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..rest import RequestRecord


@dataclass(frozen=True)
class Exchange:
    """One answered REST request, as a checker sees it (``path`` has no ``/api/v10``)."""

    method: str
    path: str
    query: dict[str, str]
    request_body: Any
    multipart: bool
    status: int
    #: The decoded JSON answer (``None`` when there is no body; bytes when it is not JSON).
    response_body: Any

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


class Observer(Protocol):
    def rest(self, exchange: Exchange) -> None: ...

    def dispatch(self, event: str, frame: str) -> None:
        """``frame``: the dispatch as sent, JSON text (its payload is ``["d"]``)."""


#: Installed observers (process-wide: every emulator in the process reports to them).
OBSERVERS: list[Observer] = []


def observe_rest(record: RequestRecord, multipart: bool, body: Any, content_type: str) -> None:
    """One answered request whose route the emulator knows; ``body`` is the response's bytes."""
    response: Any = None
    if isinstance(body, bytes) and body:
        response = json.loads(body) if content_type == "application/json" else body
    exchange = Exchange(
        record.method, record.path, record.query, record.json, multipart, record.status, response
    )
    for observer in OBSERVERS:
        observer.rest(exchange)


def observe_dispatch(event: str, frame: str) -> None:
    for observer in OBSERVERS:
        observer.dispatch(event, frame)
