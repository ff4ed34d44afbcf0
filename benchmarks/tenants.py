"""The many-tenants phase of `outbound.py --tenants N`: N tenants with 3 webhooks each (one rule
each, matching every device update of its tenant), events spread over the tenants, then ingested
and drained exactly as the single-tenant phase before it, so the two figures come from the same
run (issue 25: within 10 % of the single-tenant figures)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from hookhub.db.store import Store
from hookhub.db.tables import rules, tenants, webhooks
from hookhub.outbound.intake import ingest

WEBHOOKS_PER_TENANT = 3
INGEST_CHUNK = 500  # events per ingest() call, as the single-tenant phase


@dataclass(frozen=True)
class TenantFigures:
    """The many-tenants phase: deliveries ingested and dispatched per second."""

    tenants: int
    webhooks: int
    ingest_per_s: float  # deliveries created per second (3 per event)
    hookhub_per_s: float  # deliveries dispatched per second
    hookhub_cpu_us: float  # this process's CPU per delivery dispatched, as `Figures` has it


async def create_tenants(
    store: Store, url: str, count: int, webhook_row: Any, rule_row: Any
) -> list[str]:
    """`count` tenants, each with `WEBHOOKS_PER_TENANT` webhooks to `url` and a rule for each;
    their ids."""
    now = time.time()
    ids = [f"tenant-{i:05d}" for i in range(count)]
    hooks: list[dict[str, Any]] = []
    found: list[dict[str, Any]] = []
    for tenant in ids:
        for j in range(WEBHOOKS_PER_TENANT):
            hook = {**webhook_row(url, f"hook-{j}"), "tenant_id": tenant}
            hooks.append(hook)
            found.append({**rule_row(hook["id"], f"rule-{j}"), "tenant_id": tenant})
    tenant_rows = [{"id": t, "name": t, "created_at": now, "updated_at": now} for t in ids]
    async with store.write() as conn:
        await conn.execute(tenants.insert(), tenant_rows)
        await conn.execute(webhooks.insert(), hooks)
        await conn.execute(rules.insert(), found)
    return ids


async def ingest_spread(store: Store, ids: list[str], deliveries: int, sample: Any) -> float:
    """Seconds to ingest events spread round-robin over the tenants `ids`, enough for
    `deliveries` deliveries; checks the count."""
    count = deliveries // WEBHOOKS_PER_TENANT
    events = [
        {
            "object_type": "dcim.device",
            "event": "updated",
            "username": "bench",
            "data": sample(i),
            "tenant_id": ids[i % len(ids)],
        }
        for i in range(count)
    ]
    created = 0
    started = time.perf_counter()
    for start in range(0, count, INGEST_CHUNK):
        created += (await ingest(store, events[start : start + INGEST_CHUNK])).deliveries
    elapsed = time.perf_counter() - started
    if created != count * WEBHOOKS_PER_TENANT:
        raise RuntimeError(f"ingest created {created} deliveries for {count} events")
    return elapsed
