"""SQLAlchemy ORM: `track(session_or_sessionmaker, [Model, ...])` turns every insert, update
and delete of those mapped classes into a NetBox-shaped event, written by the transactional
outbox in the same transaction just before it commits (rolled back: no events).

Changes are collected after each flush and merged per object (`hookhub.contrib.changes`);
`session.info["hookhub_username"]` and `["hookhub_request_id"]` fill those event fields.
A rolled-back savepoint's changes are not taken back: its objects' events are still written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import NO_VALUE, Session, sessionmaker

from hookhub.contrib.changes import CREATED, DELETED, UPDATED, Change, Changes
from hookhub.sdk.outbox import emit_many

USERNAME, REQUEST_ID = "hookhub_username", "hookhub_request_id"  # keys in Session.info
_CHANGES = "hookhub_changes"  # key in Session.info: this transaction's merged changes
Serializer = Callable[[Any], dict[str, Any]]


def columns(obj: Any) -> dict[str, Any]:
    """The default `data` and snapshots: every mapped column attribute's current value."""
    return {attr.key: getattr(obj, attr.key) for attr in inspect(obj).mapper.column_attrs}


def _before(obj: Any, now: dict[str, Any]) -> dict[str, Any]:
    """The column values before this flush's changes (the prechange snapshot of an update)."""
    state = inspect(obj)
    old = dict(now)
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if history.deleted and history.deleted[0] is not NO_VALUE:
            old[attr.key] = history.deleted[0]
    return old


class Tracker:
    """The listeners `track` installs: what to watch, and how to name and serialize it."""

    def __init__(
        self,
        models: Iterable[type],
        object_type: Callable[[type], str],
        serialize: Serializer,
    ) -> None:
        self.models = tuple(models)
        self.object_type = object_type
        self.serialize = serialize

    def after_flush(self, session: Session, _context: Any) -> None:
        """Record what this flush changed (attribute history is still there to read)."""
        changes: Changes = session.info.setdefault(_CHANGES, Changes())
        for kind, objects in (
            (CREATED, session.new),
            (UPDATED, session.dirty),
            (DELETED, session.deleted),
        ):
            for obj in objects:
                if isinstance(obj, self.models) and (kind != UPDATED or session.is_modified(obj)):
                    changes.record(self._key(obj), self._change(kind, obj))

    def _key(self, obj: Any) -> tuple[type, Any]:
        # Not `identity`: a new object has none until the flush is over.
        mapper = inspect(obj).mapper
        return mapper.class_, tuple(mapper.primary_key_from_instance(obj))

    def _change(self, kind: str, obj: Any) -> Change:
        now = self.serialize(obj)
        if kind == CREATED:
            return Change(self.object_type(type(obj)), kind, now, None, now)
        if kind == DELETED:
            return Change(self.object_type(type(obj)), kind, now, now, None)
        return Change(self.object_type(type(obj)), kind, now, _before(obj, now), now)

    def before_commit(self, session: Session) -> None:
        """Flush what is left, then write the merged events in the committing transaction."""
        session.flush()
        changes: Changes | None = session.info.get(_CHANGES)
        if changes and changes.pending:
            info = session.info
            emit_many(session, changes.drain(info.get(USERNAME), info.get(REQUEST_ID)))

    def after_rollback(self, session: Session) -> None:
        """Forget the changes of a transaction that did not commit."""
        session.info.pop(_CHANGES, None)


def _table_name(model: type) -> str:
    return str(inspect(model).local_table.name)


def track(
    target: Session | sessionmaker[Any] | type[Session],
    models: Iterable[type],
    *,
    object_type: Callable[[type], str] = _table_name,
    serialize: Serializer = columns,
) -> Tracker:
    """Emit created/updated/deleted events for `models` changed through `target` (a session,
    a sessionmaker or a Session class). `object_type` names a model (default: its table)."""
    tracker = Tracker(models, object_type, serialize)
    event.listen(target, "after_flush", tracker.after_flush)
    event.listen(target, "before_commit", tracker.before_commit)
    event.listen(
        target, "after_soft_rollback", lambda session, _tx: tracker.after_rollback(session)
    )
    return tracker
