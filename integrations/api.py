"""The webhooks API (admins only: superusers and their API tokens). Thin: `services` validates and writes.

POST /api/v1/webhooks/ answers the subscription with its `secret`, this once; reads never show it.
"""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import INVALID, NOT_PERMITTED, UNAUTHENTICATED, DetailSerializer, json_object
from core.parsers import SafeJSONParser
from integrations import campaigns, services
from integrations import serializers as s
from integrations.models import Subscription

NOT_FOUND = DetailSerializer
DELIVERY_LOG_LIMIT = 200


def _admin(request) -> None:
    if not request.user.is_superuser:
        raise PermissionDenied(_("Only admins may manage webhooks."))


def _with_secret(subscription, secret) -> dict:
    return {**s.SubscriptionSerializer(subscription).data, "secret": secret}


class WebhooksView(APIView):
    parser_classes = [SafeJSONParser]

    @extend_schema(
        summary="Webhook subscriptions",
        responses={200: s.SubscriptionSerializer(many=True), 401: UNAUTHENTICATED, 403: NOT_PERMITTED},
    )
    def get(self, request):
        _admin(request)
        return Response(s.SubscriptionSerializer(Subscription.objects.order_by("id"), many=True).data)

    @extend_schema(
        summary="Subscribe a URL to events (the secret is in this answer only)",
        request=s.SubscriptionInputSerializer,
        responses={201: s.SubscriptionWithSecretSerializer, 400: INVALID, 401: UNAUTHENTICATED, 403: NOT_PERMITTED},
    )
    def post(self, request):
        _admin(request)
        subscription, secret = services.create_subscription(by=request.user, data=json_object(request))
        return Response(_with_secret(subscription, secret), status=201)


class WebhookView(APIView):
    parser_classes = [SafeJSONParser]

    @extend_schema(
        summary="One webhook subscription",
        responses={200: s.SubscriptionSerializer, 401: UNAUTHENTICATED, 403: NOT_PERMITTED, 404: NOT_FOUND},
    )
    def get(self, request, pk):
        _admin(request)
        return Response(s.SubscriptionSerializer(services.get(by=request.user, subscription_id=pk)).data)

    @extend_schema(
        summary="Delete a webhook subscription and its delivery log",
        responses={204: None, 401: UNAUTHENTICATED, 403: NOT_PERMITTED, 404: NOT_FOUND},
    )
    def delete(self, request, pk):
        _admin(request)
        services.delete_subscription(by=request.user, subscription_id=pk)
        return Response(status=204)


class RotateSecretView(APIView):
    parser_classes = [SafeJSONParser]

    @extend_schema(
        summary="A new signing secret; the old one signs too for 24 hours",
        request=None,
        responses={200: s.SubscriptionWithSecretSerializer, 401: UNAUTHENTICATED, 403: NOT_PERMITTED, 404: NOT_FOUND},
    )
    def post(self, request, pk):
        _admin(request)
        subscription, secret = services.rotate_secret(by=request.user, subscription_id=pk)
        return Response(_with_secret(subscription, secret))


class DeliveriesView(APIView):
    @extend_schema(
        summary="The delivery log of a subscription (newest first)",
        responses={200: s.DeliverySerializer(many=True), 401: UNAUTHENTICATED, 403: NOT_PERMITTED, 404: NOT_FOUND},
    )
    def get(self, request, pk):
        _admin(request)
        subscription = services.get(by=request.user, subscription_id=pk)
        log = subscription.deliveries.order_by("-event_position")[:DELIVERY_LOG_LIMIT]
        return Response(s.DeliverySerializer(log, many=True).data)


class RedeliverFailedView(APIView):
    parser_classes = [SafeJSONParser]

    @extend_schema(
        summary="Send every failed delivery again (same webhook-id)",
        request=None,
        responses={200: s.RedeliveredSerializer, 401: UNAUTHENTICATED, 403: NOT_PERMITTED, 404: NOT_FOUND},
    )
    def post(self, request, pk):
        _admin(request)
        return Response({"queued": services.redeliver(by=request.user, subscription_id=pk)})


class RedeliverView(APIView):
    parser_classes = [SafeJSONParser]

    @extend_schema(
        summary="Send one delivery again (same webhook-id)",
        request=None,
        responses={200: s.RedeliveredSerializer, 401: UNAUTHENTICATED, 403: NOT_PERMITTED, 404: NOT_FOUND},
    )
    def post(self, request, pk, delivery_id):
        _admin(request)
        return Response({
            "queued": services.redeliver(by=request.user, subscription_id=pk, delivery_id=delivery_id)
        })


class CampaignsView(APIView):
    parser_classes = [SafeJSONParser]

    @extend_schema(
        summary="Campaigns with their costs (marketing, managers, admins)",
        responses={200: s.CampaignSerializer(many=True), 401: UNAUTHENTICATED, 403: NOT_PERMITTED},
    )
    def get(self, request):
        return Response(s.CampaignSerializer(campaigns.visible_campaigns(request.user), many=True).data)

    @extend_schema(
        summary="Create a campaign, or update the one with this slug (push spend from ad platforms)",
        request=s.CampaignSerializer,
        responses={200: s.CampaignSerializer, 201: s.CampaignSerializer, 400: INVALID, 401: UNAUTHENTICATED,
                   403: NOT_PERMITTED},
    )
    def post(self, request):
        campaign, created = campaigns.upsert(by=request.user, data=json_object(request))
        return Response(s.CampaignSerializer(campaign).data, status=201 if created else 200)
