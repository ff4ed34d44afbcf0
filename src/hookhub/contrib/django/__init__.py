"""Django: add `hookhub.contrib.django` to INSTALLED_APPS and its middleware, list the models
in `settings.HOOKHUB["MODELS"]`, and every create, update and delete of them becomes a
NetBox-shaped event once its transaction commits (see docs/django.md)."""
