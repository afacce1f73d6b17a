"""Which Django models the records API exposes, and the hooks their owning apps plug in.

An app registers its tables from ``AppConfig.ready()``::

    register_table(BPartner, identifier=("Name",), hooks=BPartnerHooks(),
                   defaults={"Value": "@Sequence=DocumentNo_C_BPartner@", "C_BP_Group_ID": "@IsDefault@"})
    register_doc_action("C_Order", "CO", complete_order)
    register_sequence_source(document_no_next)

A column's default (``defaults``) is an expression as ``AD_Column.DefaultValue`` holds it; see
:mod:`apps.records.defaults` for the forms it may take.

Everything here is in-process and keyed by the lower-case table name (``model._meta.db_table``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import models

from apps.core.errors import NotFound


class RecordHooks:
    """A table's owning app subclasses this to derive columns, validate and cascade; default: no-op."""

    def lock_parents(self, ctx, obj) -> None:
        """Lock the rows a change of ``obj`` will lock too (e.g. its order), before ``obj`` itself.

        The records service calls this with the unlocked row right before it locks the row for an
        update or a delete, so every path takes locks in one order: parent, then child."""

    def before_save(self, ctx, obj, *, creating: bool) -> None:
        """Derive columns (e.g. LineNetAmt) or validate (raise ApplicationError)."""

    def after_save(self, ctx, obj, *, created: bool) -> None:
        """Cascade effects, e.g. recompute the parent order's GrandTotal."""

    def before_delete(self, ctx, obj) -> None:
        """Refuse or prepare a delete."""

    def after_delete(self, ctx, obj) -> None:
        """Cascade effects after a delete."""


DocActionHandler = Callable[[Any, Any], Any]
ApprovalStarter = Callable[[Any, Any], bool]
# ``source(client_id, name) -> str``: the next value of the client's sequence ``name``, drawn in the
# caller's transaction (a rollback gives it back).
SequenceSource = Callable[[int, str], str]


@dataclass
class TableSpec:
    model: type[models.Model]
    table_name: str
    identifier: tuple[str, ...] = ("Name",)
    secret: tuple[str, ...] = ()
    read_only: tuple[str, ...] = ()
    hooks: RecordHooks = field(default_factory=RecordHooks)
    description: str = ""
    defaults: dict[str, str] = field(default_factory=dict)  # column name → DefaultValue expression
    doc_actions: dict[str, DocActionHandler] = field(default_factory=dict)
    approval_starters: list[ApprovalStarter] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.table_name.lower()

    @property
    def model_name(self) -> str:
        return self.table_name.lower()


_TABLES: dict[str, TableSpec] = {}
_SEQUENCE_SOURCE: list[SequenceSource] = []
# Doc actions / approval starters may be registered before the table itself (app order).
_PENDING_ACTIONS: dict[str, dict[str, DocActionHandler]] = {}
_PENDING_STARTERS: dict[str, list[ApprovalStarter]] = {}


def register_table(
    model: type[models.Model],
    *,
    identifier: tuple[str, ...] | list[str] = ("Name",),
    secret: tuple[str, ...] | list[str] = (),
    read_only: tuple[str, ...] | list[str] = (),
    hooks: RecordHooks | None = None,
    description: str = "",
    defaults: dict[str, str] | None = None,
) -> None:
    """Expose ``model`` as table ``model._meta.db_table``; call from ``AppConfig.ready()``.

    ``defaults`` maps column names to default expressions (``"5"``, ``"@#AD_Org_ID@"``,
    ``"@IsDefault@"``, ``"@Sequence=Name@"``, ``"@Derived: how@"``): they fill the columns a create
    does not name, before validation (:mod:`apps.records.defaults`)."""
    table_name = model._meta.db_table
    key = table_name.lower()
    spec = TableSpec(
        model=model,
        table_name=table_name,
        identifier=tuple(identifier),
        secret=tuple(secret),
        read_only=tuple(read_only),
        hooks=hooks or RecordHooks(),
        description=description or (model.__doc__ or "").strip().split("\n")[0][:255],
        defaults=dict(defaults or {}),
    )
    old = _TABLES.get(key)
    if old is not None:
        spec.doc_actions.update(old.doc_actions)
        spec.approval_starters.extend(old.approval_starters)
    spec.doc_actions.update(_PENDING_ACTIONS.pop(key, {}))
    spec.approval_starters.extend(_PENDING_STARTERS.pop(key, []))
    _TABLES[key] = spec
    _invalidate()


def register_doc_action(table_name: str, action: str, handler: DocActionHandler) -> None:
    """``handler(ctx, obj) -> obj`` runs inside the PUT's transaction, after the column updates."""
    key = table_name.lower()
    spec = _TABLES.get(key)
    if spec is None:
        _PENDING_ACTIONS.setdefault(key, {})[action.upper()] = handler
    else:
        spec.doc_actions[action.upper()] = handler


def register_approval_starter(table_name: str, starter: ApprovalStarter) -> None:
    """``starter(ctx, obj) -> bool``: True when it started an approval for ``obj``."""
    key = table_name.lower()
    spec = _TABLES.get(key)
    if spec is None:
        _PENDING_STARTERS.setdefault(key, []).append(starter)
    elif starter not in spec.approval_starters:
        spec.approval_starters.append(starter)


def register_sequence_source(source: SequenceSource) -> None:
    """The app that keeps the sequences (AD_Sequence) plugs in how a number is drawn."""
    _SEQUENCE_SOURCE[:] = [source]


def sequence_next(client_id: int, name: str) -> str:
    """The next value of the client's sequence ``name`` (``@Sequence=name@`` defaults)."""
    if not _SEQUENCE_SOURCE:
        raise LookupError("No sequence source is registered (the erp app keeps AD_Sequence).")
    return _SEQUENCE_SOURCE[0](client_id, name)


def approval_starters(table_name: str) -> list[ApprovalStarter]:
    key = table_name.lower()
    spec = _TABLES.get(key)
    if spec is None:
        return list(_PENDING_STARTERS.get(key, []))
    return list(spec.approval_starters)


def doc_action_handler(table_name: str, action: str) -> DocActionHandler | None:
    spec = _TABLES.get(table_name.lower())
    if spec is None:
        return None
    return spec.doc_actions.get(str(action).upper())


def table_spec(table_name: str) -> TableSpec:
    """The registered table (case-insensitive); 404 when nothing of that name is exposed."""
    spec = _TABLES.get(str(table_name).lower())
    if spec is None:
        raise NotFound(f"Table '{table_name}' is not exposed.")
    return spec


def table_spec_for_model(model: type[models.Model]) -> TableSpec | None:
    return _TABLES.get(model._meta.db_table.lower())


def all_table_specs() -> list[TableSpec]:
    return sorted(_TABLES.values(), key=lambda s: s.key)


def unregister_table(table_name: str) -> None:
    """Tests only: forget a test-only registration."""
    _TABLES.pop(table_name.lower(), None)
    _invalidate()


def _invalidate() -> None:
    # The column metadata cache derives from the registry; drop it when the registry changes.
    from apps.records import dictionary

    dictionary.reset_meta_cache()
