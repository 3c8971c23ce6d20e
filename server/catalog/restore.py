"""Restoring a record to a version its history keeps: a new write of that content, judged like any other."""

from __future__ import annotations

from server.catalog.history import Action, content
from server.catalog.writes import WriteOutcome, write_records
from server.errors import BadInput
from server.governance.shapes import Shapes
from server.identity.principal import Principal
from server.store.base import Store


def restore_version(
    store: Store, record: str, version: int, *, actor: Principal, shapes: Shapes | None = None
) -> WriteOutcome:
    """Write `record` as version `version` left it, validated and authorised as any write (a removed product comes
    back too); the history notes a RESTORE. Nothing is stored when the write is refused."""
    graph = content(store, record, version)
    if not len(graph):
        raise BadInput(
            f"version {version} of {record} is its removal: there is nothing to restore; choose an earlier one"
        )
    return write_records(store, {record: graph}, actor=actor, action=Action.RESTORE, shapes=shapes)
