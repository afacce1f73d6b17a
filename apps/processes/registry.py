"""Process handlers by name: the code behind an AD_Process row (its ``Classname``).

An app registers its handlers from ``AppConfig.ready()``::

    register_process_handler("order_detail", order_detail_report)

A handler is ``handler(ctx, params) -> ProcessOutcome``: ``params`` are the typed parameter values
(``None`` when not given; a range parameter also has ``<name>_to``). It reads through the
tenant-scoped selectors with ``ctx``, and raises ``ApplicationError`` for a refusal the caller
should read (it becomes the run's summary, ``isError: true``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ReportColumn:
    key: str
    label: str
    numeric: bool = False
    width: int = 0  # percent of the page width; 0 = share the rest
    money: bool = False


@dataclass
class ReportGroup:
    heading: str
    rows: list[dict[str, Any]]
    total: dict[str, Any] | None = None


@dataclass
class Report:
    """What a report handler returns; :mod:`apps.processes.rendering` turns it into PDF/HTML/CSV."""

    title: str
    columns: list[ReportColumn]
    groups: list[ReportGroup]
    criteria: list[str] = field(default_factory=list)
    total: dict[str, Any] | None = None
    base_name: str = "Report"


@dataclass
class ProcessOutcome:
    summary: str
    logs: list[str] = field(default_factory=list)
    report: Report | None = None


ProcessHandler = Callable[[Any, dict[str, Any]], ProcessOutcome]
_HANDLERS: dict[str, ProcessHandler] = {}


def register_process_handler(name: str, handler: ProcessHandler) -> None:
    _HANDLERS[name] = handler


def process_handler(name: str) -> ProcessHandler | None:
    return _HANDLERS.get(name)


def handler_names() -> list[str]:
    return sorted(_HANDLERS)
