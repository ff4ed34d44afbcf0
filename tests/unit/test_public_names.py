"""The `hookhub` package's public names: exactly `__all__`, each importable, loaded lazily."""

from __future__ import annotations

import subprocess
import sys

import hookhub

# Written out on purpose: adding a public name must be a decision, made here too.
PUBLIC = {
    "Client", "AsyncClient", "ApiError", "emit", "verify", "VerificationError",
    "MissingSignature", "StaleTimestamp", "SignatureMismatch", "HookhubError", "ValidationError",
    "__version__",
}  # fmt: skip


def test_all_is_what_is_meant_to_be_public_and_each_name_resolves() -> None:
    assert set(hookhub.__all__) == PUBLIC
    for name in hookhub.__all__:
        assert getattr(hookhub, name) is not None


def test_import_hookhub_stays_light() -> None:
    heavy = ("httpx", "sqlalchemy.orm", "django", "flask", "hookhub.sdk.client")
    probe = f"import hookhub, sys; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
