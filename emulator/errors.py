"""Errors: Discord's JSON error bodies for the bot, plain exceptions for the test author."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]


class ApiError(Exception):
    """A Discord API error answer; rendered as Discord's JSON error body."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        errors: JSON | None = None,
        violation: bool = True,
        explanation: str = "",
    ) -> None:
        super().__init__(
            f"{status} {code}: {message}" + (f" ({explanation})" if explanation else "")
        )
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        #: False for errors a test asked for (closed DMs, injected faults): not the bot's fault.
        self.violation = violation
        #: Human-readable detail for the test report (Discord's body stays exact).
        self.explanation = explanation

    def body(self) -> JSON:
        body: JSON = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


class FormErrors:
    """Collects field errors and raises Discord's ``50035 Invalid Form Body`` with nested paths."""

    def __init__(self) -> None:
        self._errors: list[tuple[tuple[str | int, ...], str, str]] = []

    def add(self, path: tuple[str | int, ...], code: str, message: str) -> None:
        self._errors.append((path, code, message))

    def __bool__(self) -> bool:
        return bool(self._errors)

    def summary(self) -> str:
        return "; ".join(
            f"{'.'.join(str(p) for p in path) or '<body>'}: {message}"
            for path, _, message in self._errors
        )

    def raise_if_any(self, *, code: int = 50035, message: str = "Invalid Form Body") -> None:
        if not self._errors:
            return
        tree: JSON = {}
        for path, err_code, err_message in self._errors:
            node = tree
            for part in path:
                node = node.setdefault(str(part), {})
            node.setdefault("_errors", []).append({"code": err_code, "message": err_message})
        raise ApiError(400, code, message, errors=tree, explanation=self.summary())


@dataclass(frozen=True)
class Violation:
    """Something the bot did that real Discord would reject (or an API route it doesn't have)."""

    method: str
    path: str
    status: int
    code: int
    message: str
    detail: JSON = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status} (code {self.code}): {self.message}"


class EmulatorError(Exception):
    """Base class for errors raised to the test author."""


class ScenarioError(EmulatorError):
    """The test asked for something a real person could not do (unsynced command, hidden button)."""


class NoAnswerError(EmulatorError):
    """The bot did not answer an interaction in time ("The application did not respond")."""


class AnswerRejectedError(EmulatorError):
    """The bot answered, but Discord would have rejected the answer (the violation says why)."""

    def __init__(self, violation: Violation) -> None:
        super().__init__(str(violation))
        self.violation = violation
