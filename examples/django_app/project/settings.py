"""Settings of the example project: the parts that matter for hookhub are INSTALLED_APPS,
MIDDLEWARE and HOOKHUB."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "example-only-not-a-secret"  # noqa: S105
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "project.urls"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "hookhub.contrib.django",
    "inventory",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: events carry the user's name.
    "hookhub.contrib.django.middleware.HookhubMiddleware",
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DATABASE", BASE_DIR / "app.db"),
    }
}

HOOKHUB = {
    # hookhub's database (the one `hookhub serve` / `hookhub worker` use).
    "DATABASE_URL": os.environ.get("HOOKHUB_DATABASE_URL", f"sqlite:///{BASE_DIR / 'hookhub.db'}"),
    # Models whose changes become events: "app_label.model".
    "MODELS": ["inventory.device"],
    # Optional: a dotted path to `f(instance) -> dict` for `data` and the snapshots.
    "SERIALIZER": "inventory.serializers.device_data",
}
