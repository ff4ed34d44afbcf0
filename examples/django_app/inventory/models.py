"""The example's one tracked model."""

from django.db import models


class Device(models.Model):
    name = models.CharField(max_length=100, unique=True)
    status = models.CharField(max_length=20, default="planned")
    updated = models.DateTimeField(auto_now=True)
