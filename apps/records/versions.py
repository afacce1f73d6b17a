"""Optimistic locking of records: the ``ETag`` of a row and the ``If-Match`` check of a change.

A row's entity tag is made of its ``RowVersion`` (models with a ``row_version`` field: the records
service adds one on every change it makes) and its ``Updated`` timestamp (which every other write
path, the admin and the document actions included, moves too): ``"<version>.<updated µs>"``.

A PUT or DELETE that sends ``If-Match`` is checked *after* the row is locked
(``SELECT ... FOR UPDATE`` in :func:`apps.records.services._for_write`), so of two changes sent
with the same tag exactly one wins; the other sees the newer row and answers 412.
"""

from __future__ import annotations

from typing import Any

from apps.core.errors import BadRequest, PreconditionFailed
from apps.records.dictionary import ROW_VERSION, TableMeta

MAX_IF_MATCH = 1024


def _tag(version: int | None, updated: Any) -> str:
    stamp = int(updated.timestamp() * 1_000_000) if updated is not None else 0
    return f'"{version or 0}.{stamp}"'


def etag_of(obj: Any) -> str:
    """The entity tag of a row as loaded (its ``row_version`` and ``updated`` attributes)."""
    return _tag(getattr(obj, ROW_VERSION, None), getattr(obj, "updated", None))


def current_etag(meta: TableMeta, pk: Any) -> str | None:
    """The entity tag of row ``pk`` as stored now (None when it is gone)."""
    names = {f.attname for f in meta.model._meta.concrete_fields}
    fields = [name for name in (ROW_VERSION, "updated") if name in names]
    if not fields:
        return None
    row = meta.model._base_manager.filter(pk=pk).values(*fields).first()
    return None if row is None else row_etag(row)


def row_etag(row: dict[str, Any]) -> str:
    """The entity tag of a row read as ``values("row_version", "updated")``."""
    return _tag(row.get(ROW_VERSION), row.get("updated"))


def next_version(obj: Any) -> None:
    """Count a change of a locked row (call right before saving it)."""
    if hasattr(obj, ROW_VERSION):
        setattr(obj, ROW_VERSION, (getattr(obj, ROW_VERSION) or 0) + 1)


def _entity_tags(value: Any, header: str, *, weak: bool) -> list[str] | None:
    """The opaque tags a conditional header lists, quotes dropped; None when absent.

    ``weak``: the weak comparison (``W/"x"`` counts as ``x``); otherwise the strong one, where a
    weak tag matches nothing (RFC 9110 §8.8.3.2) and is left out."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_IF_MATCH:
        raise BadRequest(f'{header}: expected one or more entity tags, e.g. "3.1767225600000000".')
    tags = []
    for part in value.split(","):
        tag = part.strip()
        is_weak = tag.startswith("W/")
        if is_weak:
            tag = tag[2:]
        tag = tag.strip('"')
        if not tag:
            raise BadRequest(f"{header}: an empty entity tag.")
        if weak or not is_weak:
            tags.append(tag)
    return tags


def parse_if_match(value: Any) -> list[str] | None:
    """``If-Match`` (or a body's ``@odata.etag``) → the strong tags it lists (a weak one never
    matches: RFC 9110 §13.1.1 asks for the strong comparison); None when absent."""
    return _entity_tags(value, "If-Match", weak=False)


def none_match(if_none_match: Any, etag: str) -> bool:
    """True when ``If-None-Match`` names ``etag`` or is ``*``: a GET then answers 304.

    Weak comparison (RFC 9110 §13.1.2): ``W/"3.17..."`` matches ``"3.17..."``. Absent: False."""
    tags = _entity_tags(if_none_match, "If-None-Match", weak=True)
    if tags is None:
        return False
    return "*" in tags or etag.removeprefix("W/").strip('"') in tags


def check_if_match(if_match: Any, obj: Any, table_name: str) -> None:
    """412 when ``if_match`` names no tag of the (locked) row ``obj``; nothing without ``if_match``."""
    tags = parse_if_match(if_match)
    if tags is None or "*" in tags:
        return
    current = etag_of(obj).strip('"')
    if current not in tags:
        raise PreconditionFailed(
            f"Record {obj.pk} of '{table_name}' has changed since you read it (its ETag is now "
            f"\"{current}\"); read it again and reapply your change.",
            extra={"etag": f'"{current}"'},
        )
