"""The application layer: the use cases, one module per area, over ports the adapters fill.

``CMEApplication`` is the one object callers hold; its methods come from the
area modules (children, cases, disclosures, rights, senders), which share the core's
unit of work. Nothing here imports cryptography, a database driver or Kafka.
"""

from __future__ import annotations

from application.access_log import AccessLogUseCases
from application.cases import CasesUseCases
from application.children import ChildrenUseCases
from application.core import ApplicationCore, replay_aggregate
from application.disclosures import DisclosureOutcome, DisclosureUseCases
from application.rights import RightsUseCases
from application.senders import SendersUseCases

__all__ = ["ApplicationCore", "CMEApplication", "DisclosureOutcome", "replay_aggregate"]


class CMEApplication(
    ChildrenUseCases,
    CasesUseCases,
    DisclosureUseCases,
    RightsUseCases,
    SendersUseCases,
    AccessLogUseCases,
):
    """Children Missing Education: children, cases, disclosures, rights requests, senders."""

    name = "CME"
