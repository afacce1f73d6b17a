"""How an approval node approves or rejects a record whose approval column is not a plain write.

A document's approval column (C_Order.IsApproved) is owned by its document logic: approving means
"approve and complete", rejecting means "not approved". The owning app's callables are registered
here by table and column, as dotted paths resolved on first use, so this app never imports them.
Without a registration the engine writes the column through ``apps.records``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.module_loading import import_string

RecordCallback = Callable[[Any, Any], Any]  # (ctx, obj) -> obj


@dataclass(frozen=True)
class ApprovalHandlers:
    approve: str
    reject: str
    record_kwarg: str = "order"

    def resolve(self, approved: bool) -> RecordCallback:
        target = import_string(self.approve if approved else self.reject)

        def call(ctx: Any, obj: Any) -> Any:
            return target(**{self.record_kwarg: obj, "actor": ctx})

        return call


_APPROVAL_HANDLERS: dict[tuple[str, str], ApprovalHandlers] = {}


def register_approval_handlers(
    table_name: str, column_name: str, *, approve: str, reject: str, record_kwarg: str = "order"
) -> None:
    """``approve``/``reject``: dotted paths of ``f(<record_kwarg>=obj, actor=ctx) -> obj``."""
    _APPROVAL_HANDLERS[(table_name.lower(), column_name.lower())] = ApprovalHandlers(
        approve=approve, reject=reject, record_kwarg=record_kwarg
    )


def approval_callback(table_name: str, column_name: str, approved: bool) -> RecordCallback | None:
    handlers = _APPROVAL_HANDLERS.get((table_name.lower(), column_name.lower()))
    return handlers.resolve(approved) if handlers else None
