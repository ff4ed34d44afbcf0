"""Model signals → merged changes → events written with the transactional outbox on hookhub's
database (`settings.HOOKHUB["DATABASE_URL"]`), right after the change's transaction commits.

Changes are collected with `transaction.on_commit`, so a rolled-back change emits nothing.
In a request (the middleware) they are merged per object and written when it ends;
elsewhere (a management command, a shell) each commit's change is written at once.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.forms.models import model_to_dict
from django.utils.module_loading import import_string
from sqlalchemy import Engine, create_engine

from hookhub.contrib.changes import CREATED, DELETED, UPDATED, Change, Changes
from hookhub.sdk.outbox import emit_many

PRECHANGE = "_hookhub_prechange"  # instance attribute: its state before this save or delete
_request: contextvars.ContextVar[Changes | None] = contextvars.ContextVar(
    "hookhub_request", default=None
)


def config() -> Mapping[str, Any]:
    """`settings.HOOKHUB`, checked for the one key everything needs."""
    found: Mapping[str, Any] = getattr(settings, "HOOKHUB", {})
    if not found.get("DATABASE_URL"):
        raise ImproperlyConfigured('settings.HOOKHUB["DATABASE_URL"] must be hookhub\'s database')
    return found


@functools.cache
def _engine(url: str) -> Engine:
    return create_engine(url)


@functools.cache
def _serializer(path: str | None) -> Callable[[models.Model], dict[str, Any]]:
    return import_string(path) if path else model_to_dict


def serialize(instance: models.Model) -> dict[str, Any]:
    """`data` and snapshots: HOOKHUB["SERIALIZER"] (a dotted path) or `model_to_dict`."""
    return _serializer(config().get("SERIALIZER"))(instance)


def write(events: Sequence[Mapping[str, Any]]) -> None:
    """Write events to hookhub's database in one short transaction of their own."""
    if events:
        with _engine(config()["DATABASE_URL"]).begin() as conn:
            emit_many(conn, events)


@contextlib.contextmanager
def batch() -> Iterator[Changes]:
    """Collect the changes committed inside the block (a request) instead of writing each."""
    changes = Changes()
    token = _request.set(changes)
    try:
        yield changes
    finally:
        _request.reset(token)


def _committed(key: tuple[str, Any], change: Change) -> None:
    changes = _request.get()
    if changes is not None:
        changes.record(key, change)
        return
    alone = Changes()
    alone.record(key, change)
    write(alone.drain(None, None))


def _on_commit(instance: models.Model, using: str, event: str, data: Any, pre: Any) -> None:
    label = instance._meta.label_lower
    post = data if event != DELETED else None
    change = Change(label, event, data, pre, post)
    key = (label, instance.pk)
    transaction.on_commit(lambda: _committed(key, change), using=using)


def _before_save(sender: type[models.Model], instance: models.Model, **_: Any) -> None:
    previous = None
    if not instance._state.adding and instance.pk is not None:
        previous = sender._default_manager.filter(pk=instance.pk).first()
    setattr(instance, PRECHANGE, serialize(previous) if previous is not None else None)


def _after_save(instance: models.Model, created: bool, using: str, **_: Any) -> None:
    pre = None if created else getattr(instance, PRECHANGE, None)
    _on_commit(instance, using, CREATED if created else UPDATED, serialize(instance), pre)


def _before_delete(instance: models.Model, **_: Any) -> None:
    setattr(instance, PRECHANGE, serialize(instance))


def _after_delete(instance: models.Model, using: str, **_: Any) -> None:
    pre = getattr(instance, PRECHANGE, None)
    _on_commit(instance, using, DELETED, pre, pre)


def watch(model: type[models.Model]) -> None:
    """Emit created/updated/deleted events for `model` (`HOOKHUB["MODELS"]` does this)."""
    uid = f"hookhub:{model._meta.label_lower}"
    pre_save.connect(_before_save, sender=model, dispatch_uid=uid)
    post_save.connect(_after_save, sender=model, dispatch_uid=uid)
    pre_delete.connect(_before_delete, sender=model, dispatch_uid=uid)
    post_delete.connect(_after_delete, sender=model, dispatch_uid=uid)
