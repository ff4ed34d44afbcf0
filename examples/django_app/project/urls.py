"""URLs of the example project."""

from django.urls import path
from inventory import views

urlpatterns = [
    path("devices/", views.create_device),
    path("devices/<int:pk>/", views.change_device),
    path("devices/<int:pk>/retire/", views.retire_device),
]
