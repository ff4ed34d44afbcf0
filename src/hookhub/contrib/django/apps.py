"""The Django app: connects the model signals when Django starts."""

from __future__ import annotations

from django.apps import AppConfig, apps
from django.core.exceptions import ImproperlyConfigured

from hookhub.contrib.django import tracking


class HookhubConfig(AppConfig):
    """hookhub's integration; reads `settings.HOOKHUB` (DATABASE_URL, MODELS, SERIALIZER)."""

    name = "hookhub.contrib.django"
    label = "hookhub"
    verbose_name = "hookhub"

    def ready(self) -> None:
        config = tracking.config()
        for label in config.get("MODELS", ()):
            try:
                model = apps.get_model(label)
            except (LookupError, ValueError) as exc:
                raise ImproperlyConfigured(f'HOOKHUB["MODELS"]: {label!r}: {exc}') from None
            tracking.watch(model)
