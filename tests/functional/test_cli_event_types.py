"""`hookhub event-types list|create|delete`, on the database and through a server's API
(`--url`, `--token`), run in-process."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.conftest import Hookhub
from tests.functional.test_cli_objects import lines, run, through


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_create_list_delete_on_the_database_and_through_the_api(
    hookhub: Hookhub, database_url: str
) -> None:
    db = ["--database", database_url]
    schema = json.dumps({"type": "object", "properties": {"amount": {"minimum": 0}}})
    created = await asyncio.to_thread(
        run, "event-types", "create", "invoice.paid", "--schema", schema, "--examples",
        '[{"amount": 1}]', "--description", "Paid.", *db,
    )  # fmt: skip
    assert lines(created)[0]["schema"] == json.loads(schema)
    refused = await asyncio.to_thread(
        run, "event-types", "create", "x.y", "--examples", '[{"amount": -1}]', "--schema",
        schema, *db,
    )  # fmt: skip
    assert refused.exit_code != 0
    assert "examples.0: does not match the schema at /amount" in str(refused.exception)

    remote = await asyncio.to_thread(
        run, "event-types", "create", "invoice.sent", "--deprecated", env=through(hookhub)
    )
    assert lines(remote)[0]["deprecated"] is True
    listed = await asyncio.to_thread(run, "event-types", "list", "--json", *db)
    assert [item["name"] for item in lines(listed)] == ["invoice.paid", "invoice.sent"]
    table = await asyncio.to_thread(run, "event-types", "list", env=through(hookhub))
    assert "invoice.paid" in table.output and "Paid." in table.output

    deleted = await asyncio.to_thread(
        run, "event-types", "delete", "invoice.sent", env=through(hookhub)
    )
    assert deleted.exit_code == 0 and "deleted invoice.sent" in deleted.output
    gone = await asyncio.to_thread(run, "event-types", "delete", "invoice.sent", *db)
    assert gone.exit_code != 0 and "no event type named 'invoice.sent'" in str(gone.exception)
