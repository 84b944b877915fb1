"""REST views of drift watches: watches (the secret is shown once, at creation), alerts, the delivery log."""
from __future__ import annotations

from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from hanas_platform.filters import IdFilter

from .. import selectors, services
from ..models import Alert, Watch
from .serializers import (AlertSerializer, DeliverySerializer, WatchCreateSerializer, WatchSerializer,
                          WatchUpdateSerializer)


class WatchListCreate(generics.ListCreateAPIView):
    """Your watches and your teams'. POST creates one; its answer carries the webhook ``secret``, shown only
    there: each webhook POST is signed ``X-Hanas-Signature: sha256=HMAC-SHA256(secret, body)``."""

    permission_classes = [IsAuthenticated]
    serializer_class = WatchSerializer
    filterset_fields = ["metric", "active", "target", "backend_name", "processor_family"]

    def get_queryset(self):
        return selectors.visible_watches(self.request.user)

    @extend_schema(request=WatchCreateSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, *args, **kwargs):
        from benchmarks_app import selectors as bench_selectors

        ser = WatchCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        circuit_id = data.pop("circuit")
        data["circuit"] = bench_selectors.circuit_get(circuit_id) if circuit_id is not None else None
        watch, secret = services.watch_create(owner=request.user, **data)
        body = dict(WatchSerializer(watch, context={"request": request}).data, secret=secret,
                    secret_note="shown once: store it to verify X-Hanas-Signature (sha256=HMAC-SHA256 of the body)")
        return Response(body, status=status.HTTP_201_CREATED)


class WatchDetail(generics.RetrieveUpdateDestroyAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = WatchSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_object(self):
        return selectors.watch_get(self.request.user, self.kwargs["pk"])

    @extend_schema(request=WatchUpdateSerializer)
    def patch(self, request, *args, **kwargs):
        ser = WatchUpdateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        watch = services.watch_update(self.get_object(), request.user, **ser.validated_data)
        return Response(WatchSerializer(watch, context={"request": request}).data)

    def delete(self, request, *args, **kwargs):
        services.watch_delete(self.get_object(), request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeliveryList(generics.ListAPIView):
    """The webhook delivery log of a watch: each delivery with every attempt (status code, error, duration)."""

    permission_classes = [IsAuthenticated]
    serializer_class = DeliverySerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Watch.objects.none()
        return selectors.deliveries(selectors.watch_get(self.request.user, self.kwargs["pk"]))


class AlertFilter(filters.FilterSet):
    watch = IdFilter(field_name="watch_id")
    circuit = IdFilter(field_name="circuit_id")
    backend = filters.CharFilter(field_name="backend__name")
    metric = filters.CharFilter()
    direction = filters.CharFilter()
    since = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = Alert
        fields = ["watch", "circuit", "backend", "metric", "direction"]


class AlertList(generics.ListAPIView):
    """Alerts of the watches you may see, newest first: before/after values, relative change, drivers."""

    permission_classes = [IsAuthenticated]
    serializer_class = AlertSerializer
    filterset_class = AlertFilter

    def get_queryset(self):
        return selectors.visible_alerts(self.request.user).select_related("delivery")


class AlertDetail(generics.RetrieveAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = AlertSerializer

    def get_object(self):
        return selectors.alert_get(self.request.user, self.kwargs["pk"])
