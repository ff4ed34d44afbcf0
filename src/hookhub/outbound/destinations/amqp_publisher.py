"""Publishing on an aiormq channel with publisher confirms, the frames encoded here and the
publishes of one turn of the event loop written together.

aiormq's `basic_publish` encodes each message with pamqp's general encoders and hands it to its
writer task alone, which costs a `send()` call per message: together about half of what a
publish cost hookhub. `Publisher.publish` does the same bookkeeping as `basic_publish` (the
delivery tag, the confirmation future, the message id a returned message is matched by) and
queues the frames; once the loop has run every task that was ready, they go to aiormq's writer
task as one write. The bytes are the ones pamqp writes.
"""

from __future__ import annotations

import asyncio
import functools
import struct
import uuid
from collections.abc import Mapping
from typing import Any

# Basic.Properties flags of the properties hookhub sets (AMQP 0-9-1, section 4.2.6.1).
CONTENT_TYPE, HEADERS, DELIVERY_MODE, MESSAGE_ID = 0x8000, 0x2000, 0x1000, 0x0080
MAX_SHORT = 255  # bytes of a short string (content type, message id, routing key)
MAX_NAME = 128  # bytes of a header name (pamqp truncates longer ones, with a warning)
METHOD, HEADER, BODY = 1, 2, 3  # frame types
FRAME_END = b"\xce"
BASIC = 60  # the Basic class id, which a content header names
FRAME = struct.Struct(">BHI")  # type, channel, size
CONTENT = struct.Struct(">HHQ")  # class id, weight, body size
LONG = struct.Struct(">I")
PUBLISH_FRAMES_KEPT = 1024  # encoded Basic.Publish frames remembered, by target


def encode_properties(
    content_type: str | None,
    headers: Mapping[str, Any] | None,
    delivery_mode: int | None,
    message_id: str | None,
) -> bytes | None:
    """The wire form of the properties hookhub sets, as pamqp encodes them (headers sorted, each
    a long string); None for what only pamqp's encoder handles (no headers or delivery mode, a
    value not a string, a name over MAX_NAME bytes, a content type or message id too long)."""
    if headers is None or delivery_mode is None:
        return None
    flags, parts = HEADERS | DELIVERY_MODE, []
    if content_type:
        flags |= CONTENT_TYPE
        encoded = content_type.encode()
        if len(encoded) > MAX_SHORT:
            return None
        parts.append(bytes((len(encoded),)) + encoded)
    table: list[bytes] = []
    for name, value in sorted(headers.items()):
        if not isinstance(value, str):
            return None
        key, data = name.encode(), value.encode()
        if len(key) > MAX_NAME:
            return None
        table += (bytes((len(key),)), key, b"S", LONG.pack(len(data)), data)
    fields = b"".join(table)
    parts += (LONG.pack(len(fields)), fields, bytes((delivery_mode,)))
    if message_id:
        flags |= MESSAGE_ID
        encoded = message_id.encode()
        if len(encoded) > MAX_SHORT:
            return None
        parts.append(bytes((len(encoded),)) + encoded)
    return flags.to_bytes(2, "big") + b"".join(parts)


def properties_bytes(
    content_type: str | None, headers: Mapping[str, Any], delivery_mode: int, message_id: str
) -> bytes:
    """The properties' wire form: `encode_properties`', or pamqp's (which refuses or truncates
    what the former leaves to it)."""
    encoded = encode_properties(content_type, headers, delivery_mode, message_id)
    if encoded is not None:
        return encoded
    from pamqp.commands import Basic

    properties = Basic.Properties(
        content_type=content_type,
        headers=dict(headers),
        delivery_mode=delivery_mode,
        message_id=message_id,
    )
    return properties.marshal()


@functools.lru_cache(maxsize=PUBLISH_FRAMES_KEPT)
def publish_frame(channel: int, exchange: str, routing_key: str, mandatory: bool) -> bytes:
    """The Basic.Publish method frame, encoded by pamqp once per target."""
    import pamqp.frame
    from pamqp.commands import Basic

    if len(routing_key.encode()) > MAX_SHORT:
        raise ValueError(f"the routing key is over AMQP's {MAX_SHORT} bytes")
    method = Basic.Publish(exchange=exchange, routing_key=routing_key, mandatory=mandatory)
    return pamqp.frame.marshal(method, channel)


def message_frames(
    channel: int, method: bytes, properties: bytes, body: bytes, max_content: int
) -> bytes:
    """A message's frames: its method frame, content header, and body in frames of at most
    `max_content` bytes."""
    header = CONTENT.pack(BASIC, 0, len(body)) + properties
    parts = [method, FRAME.pack(HEADER, channel, len(header)), header, FRAME_END]
    for start in range(0, len(body), max_content):
        chunk = body[start : start + max_content]
        parts += (FRAME.pack(BODY, channel, len(chunk)), chunk, FRAME_END)
    return b"".join(parts)


class Publisher:
    """Publishes on one aiormq channel in publisher-confirm mode (hookhub's own channel: no
    other code publishes on it)."""

    def __init__(self, channel: Any) -> None:
        self.channel = channel
        self._queued: list[bytes] = []  # frames of this loop turn's publishes
        self._backlog: list[Any] = []  # writes waiting for room in aiormq's write queue
        self._writing: asyncio.Task[None] | None = None

    def publish(
        self,
        exchange: str,
        routing_key: str,
        mandatory: bool,
        content_type: str | None,
        headers: Mapping[str, Any],
        delivery_mode: int,
        message_id: str | None,
        body: bytes,
    ) -> asyncio.Future[Any]:
        """Queue a message; the future of the broker's confirm (a PublishError if it comes
        back unrouted, as `basic_publish` raises)."""
        from aiormq.exceptions import ChannelInvalidStateError

        channel = self.channel
        if channel.is_closed:
            raise ChannelInvalidStateError(f"{channel!r} closed")
        # A returned message is matched to its publish by its message id, as aiormq does.
        message_id = message_id or uuid.uuid4().hex
        method = publish_frame(channel.number, exchange, routing_key, mandatory)
        properties = properties_bytes(content_type, headers, delivery_mode, message_id)
        frames = message_frames(channel.number, method, properties, body, channel.max_content_size)
        # Tag, register and queue with no await in between: tags follow the frames' order.
        channel.delivery_tag += 1
        tag = channel.delivery_tag
        confirmation: asyncio.Future[Any] = channel.create_future()
        channel.confirmations[tag] = confirmation
        channel.message_id_delivery_tag[message_id] = tag
        confirmation.add_done_callback(functools.partial(_forget, channel, message_id, tag))
        if not self._queued:
            asyncio.get_running_loop().call_soon(self._flush)
        self._queued.append(frames)
        return confirmation

    def _flush(self) -> None:
        from aiormq.abc import ChannelFrame

        frame = ChannelFrame(payload=b"".join(self._queued), should_close=False)
        self._queued = []
        if self._writing is None:
            try:
                self.channel.write_queue.put_nowait(frame)
                return
            except asyncio.QueueFull:
                pass
        self._backlog.append(frame)
        if self._writing is None:
            self._writing = asyncio.ensure_future(self._write_backlog())

    def close(self) -> None:
        """Drop the writes still waiting for room: their connection is being closed, which
        fails their confirmations (a write queue nobody empties would hold the task forever)."""
        self._backlog.clear()
        if self._writing is not None:
            self._writing.cancel()

    async def _write_backlog(self) -> None:
        """Hand the writes that found aiormq's write queue full to it, in order. If the
        connection closes meanwhile, their confirmations fail with it."""
        try:
            while self._backlog:
                await self.channel.write_queue.put(self._backlog.pop(0))
        finally:
            self._writing = None


def _forget(channel: Any, message_id: str, tag: int, _: object) -> None:
    if channel.message_id_delivery_tag.get(message_id) == tag:
        del channel.message_id_delivery_tag[message_id]
