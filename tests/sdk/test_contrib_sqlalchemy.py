"""hookhub.contrib.sqlalchemy.track: ORM changes become NetBox-shaped events in the same
transaction, merged per object, none when rolled back; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from hookhub.contrib.sqlalchemy import USERNAME, track
from hookhub.db.store import Store
from hookhub.db.tables import events
from hookhub.outbound.dispatcher import Dispatcher
from hookhub.settings import Settings
from tests.sdk.routes import route_to
from tests.support.receiver import Receiver


class Base(DeclarativeBase):
    pass


class Site(Base):
    __tablename__ = "app_sites"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default="planned")


class Untracked(Base):
    __tablename__ = "app_untracked"
    id: Mapped[int] = mapped_column(primary_key=True)


async def _events(store: Store) -> list[dict[str, Any]]:
    async with store.read() as conn:
        rows = await conn.execute(select(events).order_by(events.c.received_at, events.c.id))
        return [dict(row._mapping) for row in rows]


def _sessions(app_engine: Engine) -> sessionmaker[Any]:
    Base.metadata.create_all(app_engine)
    sessions = sessionmaker(app_engine)
    track(sessions, [Site], object_type=lambda model: f"dcim.{model.__name__.lower()}")
    return sessions


async def test_each_change_is_an_event_with_snapshots(
    store: Store, app_engine: Engine, receiver: Receiver, settings: Settings
) -> None:
    await route_to(store, receiver.url)
    sessions = _sessions(app_engine)
    with sessions() as session:
        session.info[USERNAME] = "ada"
        session.add_all([Site(id=1, name="a"), Untracked(id=1)])
        session.commit()
        site = session.get(Site, 1)
        assert site is not None
        site.status = "active"
        session.commit()

    created, updated = await _events(store)
    assert (created["object_type"], created["event"]) == ("dcim.site", "created")
    assert created["data"] == {"id": 1, "name": "a", "status": "planned"}
    assert created["snapshots"] == {"prechange": None, "postchange": created["data"]}
    assert created["username"] == "ada"
    assert updated["event"] == "updated"
    assert updated["snapshots"]["prechange"]["status"] == "planned"
    assert updated["snapshots"]["postchange"]["status"] == "active"

    dispatcher = Dispatcher(store, settings)
    await dispatcher.drain()
    await dispatcher.sender.close()
    assert len(receiver.requests) == 2


async def test_changes_in_one_transaction_merge_and_rollbacks_emit_nothing(
    store: Store, app_engine: Engine
) -> None:
    sessions = _sessions(app_engine)
    with sessions() as session:
        session.add(Site(id=1, name="a"))
        session.flush()
        session.get(Site, 1).name = "b"  # type: ignore[union-attr]
        session.commit()  # created then updated: one "created" with the final data
    with sessions() as session:
        site = session.get(Site, 1)
        site.name = "c"  # type: ignore[union-attr]
        session.flush()
        session.delete(site)
        session.commit()  # updated then deleted: one "deleted" with the first prechange
    with sessions() as session:
        session.add(Site(id=2, name="never"))
        session.flush()
        session.rollback()
        session.commit()  # nothing left to write

    created, deleted = await _events(store)
    assert (created["event"], created["data"]["name"]) == ("created", "b")
    assert deleted["event"] == "deleted"
    assert deleted["snapshots"]["prechange"]["name"] == "b"
    assert deleted["snapshots"]["postchange"] is None
