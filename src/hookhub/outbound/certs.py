"""The certificate files a webhook may name. With `HOOKHUB_CERT_DIR` set, only files inside that
directory (after resolving `..` and symbolic links), so an API user cannot point hookhub at any
file the server can read; unset, any path, as in NetBox."""

from __future__ import annotations

import os
import ssl

from hookhub.errors import ValidationError

# The webhook fields that name files on the server.
PATH_FIELDS = ("ca_file_path", "client_cert_path", "client_key_path")


def outside(path: str, cert_dir: str) -> str | None:
    """Why `path` may not be used under `cert_dir` (None: it may)."""
    if not cert_dir:
        return None
    root = os.path.realpath(cert_dir)
    if os.path.commonpath([root, os.path.realpath(path)]) != root:
        return f"{path} is outside HOOKHUB_CERT_DIR ({cert_dir})"
    return None


def check_paths(values: dict[str, str | None], cert_dir: str) -> None:
    """Raise ValidationError for the first path field naming a file outside `cert_dir`."""
    for field in PATH_FIELDS:
        path = values.get(field)
        problem = outside(path, cert_dir) if path else None
        if problem:
            raise ValidationError(problem, field=field)


def check_ca_file(path: str) -> None:
    """Raise ValidationError unless `path` loads as a PEM bundle of CA certificates."""
    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        message = f"cannot use {path} as CA certificates: {reason or 'no PEM certificate in it'}"
        raise ValidationError(message, field="ca_file_path") from None
