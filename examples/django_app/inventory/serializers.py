"""What events carry for a device (HOOKHUB["SERIALIZER"]): NetBox-like nested status."""

from typing import Any

from inventory.models import Device


def device_data(device: Device) -> dict[str, Any]:
    return {
        "id": device.pk,
        "name": device.name,
        "status": {"value": device.status},
        "updated": device.updated,
    }
