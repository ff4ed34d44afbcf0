"""The contract between the source runner and one broker's consumer loop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

BATCH = 100  # messages handed over (and acked) together at most
MAX_SHOWN_BODY = 4096  # characters of a refused message kept with its failure


@dataclass(frozen=True)
class SourceSpec:
    """A source as its consumer needs it (built from its row)."""

    id: str
    name: str
    url: str
    address: str  # the queue, subject, stream or topic
    group: str  # consumer group, durable consumer or shared-subscription group
    mapping: Mapping[str, str] | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> SourceSpec:
        return cls(
            id=row["id"],
            name=row["name"],
            url=row["url"],
            address=row["address"],
            group=row["consumer_group"],
            mapping=row["mapping"],
        )


@dataclass(frozen=True)
class Message:
    """One message: the broker's id for it when it gives a stable one (None: it gives none, so
    a redelivered message cannot be recognized), its body and its headers (or fields)."""

    id: str | None
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


# Store a batch's events (and record its refused messages); the consumer acks the batch only
# after this returns. An exception means nothing may be acked: the consumer reconnects.
Handler = Callable[[Sequence[Message]], Awaitable[None]]


class Broker(Protocol):
    """One kind of broker. `consume` connects to `source.url`, then hands batches of at most
    `BATCH` messages to `handle` and acks each batch once `handle` returns, until cancelled;
    it raises (or returns) when the connection is lost, and the runner reconnects after a
    backoff. `consumer` names this process to the broker (stable across restarts on a host)."""

    address_field: str  # how the API names `address`: queue, subject, stream or topic
    extra: str  # the pip extra with its client library: pip install 'hookhub[<extra>]'

    def check(self) -> None:
        """Raise `MissingLibrary` if the client library is not installed."""

    async def consume(self, source: SourceSpec, consumer: str, handle: Handler) -> None: ...
