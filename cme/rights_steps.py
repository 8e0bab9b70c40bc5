"""The steps of a rights request that take a date and maybe more: one table for CLI and API.

Each names its command, its use case, its date field and its other fields,
so `cme rights STEP` and ``POST /v1/rights-requests/{id}/STEP`` cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cme.bootstrap import App
from domain import commands as c

TCommand = TypeVar("TCommand", bound=c.Command)


@dataclass(frozen=True)
class Step(Generic[TCommand]):
    """A request step that takes one date (and maybe more): its command and its use case."""

    command: type[TCommand]
    use_case: Callable[[App, TCommand], None]
    date_field: str
    extras: tuple[str, ...]
    help: str

    def run(self, app: App, fields: dict[str, Any]) -> None:
        self.use_case(app, self.command.of(fields))


STEPS: dict[str, Step[Any]] = {
    "verify-identity": Step(
        c.VerifyIdentity, App.verify_identity, "verified_on", (), "the requester's identity checked"
    ),
    "stop-clock": Step(
        c.StopClock, App.stop_clock, "stopped_on", ("reason",), "waiting for identity/clarification"
    ),
    "resume-clock": Step(
        c.ResumeClock, App.resume_clock, "resumed_on", (), "what was waited for has arrived"
    ),
    "extend": Step(
        c.ExtendRequest,
        App.extend_request,
        "",
        ("months", "reason"),
        "extend by 1-2 months, with a reason",
    ),
    "close": Step(c.CloseRequest, App.close_request, "closed_on", (), "the request is finished"),
}
