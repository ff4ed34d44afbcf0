"""Plain views changing devices; hookhub sees the changes through the model signals."""

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from inventory.models import Device


@csrf_exempt
@require_POST
def create_device(request: HttpRequest) -> HttpResponse:
    device = Device.objects.create(name=request.POST["name"])
    return JsonResponse({"id": device.pk}, status=201)


@csrf_exempt
@require_POST
def change_device(request: HttpRequest, pk: int) -> HttpResponse:
    device = get_object_or_404(Device, pk=pk)
    device.status = request.POST["status"]
    device.save()
    return JsonResponse({"id": device.pk})


@csrf_exempt
@require_POST
def retire_device(request: HttpRequest, pk: int) -> HttpResponse:
    """Two changes in one request: hookhub reports one `deleted` event (NetBox's merge)."""
    with transaction.atomic():
        device = get_object_or_404(Device, pk=pk)
        device.status = "retired"
        device.save()
        device.delete()
    return HttpResponse(status=204)
