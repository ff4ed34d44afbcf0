"""hookhub: a self-hosted webhook platform.

Events in, signed and durable webhook deliveries out; webhook URLs in, workflows run.

The SDK's public names are imported lazily, on first use, so `import hookhub` (the CLI does)
pulls in neither the HTTP client nor SQLAlchemy's ORM.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hookhub.version import __version__

if TYPE_CHECKING:
    from hookhub.errors import HookhubError, ValidationError
    from hookhub.sdk.client import ApiError, AsyncClient, Client
    from hookhub.sdk.outbox import emit
    from hookhub.sdk.verify import (
        MissingSignature,
        SignatureMismatch,
        StaleTimestamp,
        VerificationError,
        verify,
    )

__all__ = [
    "ApiError",
    "AsyncClient",
    "Client",
    "HookhubError",
    "MissingSignature",
    "SignatureMismatch",
    "StaleTimestamp",
    "ValidationError",
    "VerificationError",
    "__version__",
    "emit",
    "verify",
]

# public name → the module that defines it
_LAZY = {
    "ApiError": "hookhub.sdk.client",
    "AsyncClient": "hookhub.sdk.client",
    "Client": "hookhub.sdk.client",
    "HookhubError": "hookhub.errors",
    "MissingSignature": "hookhub.sdk.verify",
    "SignatureMismatch": "hookhub.sdk.verify",
    "StaleTimestamp": "hookhub.sdk.verify",
    "ValidationError": "hookhub.errors",
    "VerificationError": "hookhub.sdk.verify",
    "emit": "hookhub.sdk.outbox",
    "verify": "hookhub.sdk.verify",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hookhub' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
