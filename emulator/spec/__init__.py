"""Discord's OpenAPI description, vendored (see README.md), and the hooks that let a checker see
every REST exchange and gateway dispatch the emulator makes.

The emulator calls :func:`observe_rest` and :func:`observe_dispatch`; they cost one list check
when nothing is installed. The checker itself (``emulator.spec.checker``, needing ``jsonschema``
and ``fastjsonschema``) is imported only by whoever installs an observer, e.g. the test suite's
plugin ``emulator.spec.pytest_plugin``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..rest import RequestRecord


class Observer(Protocol):
    def rest(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str],
        request_body: Any,
        multipart: bool,
        status: int,
        response_body: Any,
    ) -> None: ...

    def dispatch(self, event: str, data: Any) -> None: ...


#: Installed observers (process-wide: every emulator in the process reports to them).
OBSERVERS: list[Observer] = []


def observe_rest(record: RequestRecord, multipart: bool, body: Any, content_type: str) -> None:
    """One answered request whose route the emulator knows (``record.path`` has no
    ``/api/v10``); ``body`` is the response's bytes."""
    response: Any = None
    if isinstance(body, bytes) and body:
        response = json.loads(body) if content_type == "application/json" else body
    for observer in OBSERVERS:
        observer.rest(
            record.method,
            record.path,
            query=record.query,
            request_body=record.json,
            multipart=multipart,
            status=record.status,
            response_body=response,
        )


def observe_dispatch(event: str, data: Any) -> None:
    for observer in OBSERVERS:
        observer.dispatch(event, data)
