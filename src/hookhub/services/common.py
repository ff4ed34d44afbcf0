"""What every service shares: the context a door hands in, how input models read their fields
(strict JSON types, ISO 8601 times, optional fields for a change)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Strict
from pydantic.fields import FieldInfo

from hookhub.db import changes
from hookhub.db.store import Store
from hookhub.settings import Settings

# Input takes JSON types as the schema says them: no `false` for a number, no `"5"` for an
# integer, no unknown field.
STRICT = ConfigDict(extra="forbid", strict=True)
ISO_DATETIME = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d")

Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class Actor:
    """Who asks a service for something, as the door knows them: a UI user, an API token, a
    portal link, the CLI or `apply` on this machine, or hookhub itself."""

    kind: str  # user | token | portal | cli | system
    id: str | None = None
    name: str | None = None
    # Set for a tenant's token or portal link: it sees and changes that tenant's objects only.
    tenant_id: str | None = None


SYSTEM = Actor("system")


@dataclass(frozen=True)
class Context:
    """What a service needs from the door that calls it: the store, the settings (certificate
    folder, rotation grace...), in a process that runs workers how to wake them, and who asks."""

    store: Store
    settings: Settings
    on_work: Callable[[], None] | None = None
    actor: Actor = SYSTEM

    @classmethod
    def of(cls, state: Any, actor: Actor = SYSTEM) -> Context:
        """The context of an app whose `state` holds `store`, `settings` and `on_work`, for a
        request from `actor`."""
        return cls(state.store, state.settings, state.on_work, actor)

    def wake(self) -> None:
        """Tell this process's workers (if it runs any) that work is due now."""
        if self.on_work is not None:
            self.on_work()


def _iso_text(value: object) -> object:
    if isinstance(value, datetime):  # already read (a default, or a model built in code)
        return value
    if not isinstance(value, str) or not ISO_DATETIME.match(value):
        raise ValueError("expected an ISO 8601 date and time, e.g. 2026-12-01T00:00:00Z")
    return value


# A date and time in input: ISO 8601 text only (not epoch numbers); without a zone it is UTC.
Moment = Annotated[datetime, Strict(False), BeforeValidator(_iso_text)]


def optional_fields(model: type[Model]) -> type[Model]:
    """A class decorator for a change (PATCH): `model`'s fields, types and checks, each
    optional and without a default (only the fields sent change; the object they make is then
    checked as a new one would be)."""
    base_extra = model.model_config.get("json_schema_extra")

    def document(schema: dict[str, Any]) -> None:
        if isinstance(base_extra, dict):
            schema.update(base_extra)
        for spec in schema.get("properties", {}).values():
            spec.pop("default", None)  # a field not sent keeps its value

    namespace: dict[str, Any] = {
        "__module__": model.__module__,
        "__qualname__": model.__qualname__,
        "__doc__": model.__doc__,
        "__annotations__": {},
        "model_config": ConfigDict(json_schema_extra=document),
    }
    for name, info in model.model_fields.items():
        namespace["__annotations__"][name] = (
            Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        )
        namespace[name] = FieldInfo.merge_field_infos(info, default=None, default_factory=None)
    return type(model.__name__, (model,), namespace)


async def carry_out(store: Store, writes: Sequence[changes.Write]) -> int:
    """Carry out `writes` in order in one transaction (nothing is written if one fails); how
    many deliveries they resumed."""
    return await store.commit(writes)
