"""The channel ingest API: post one interaction or a batch, read a customer's recent contacts; the
OpenAPI schema and a documentation page served from the bank's own server (no CDN)."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render, resolve_url
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from channels.api.authentication import ChannelClient, ChannelTokenAuthentication
from channels.api.schema import ChannelTokenScheme  # noqa: F401  (registers the scheme)
from channels.api.selectors import TIMELINE_DEFAULT, TIMELINE_MAX, customer_timeline_for_system, interaction_for_api
from channels.api.serializers import (
    BatchInSerializer,
    BatchOutSerializer,
    ConflictSerializer,
    DetailSerializer,
    ErrorsSerializer,
    HeldSerializer,
    InteractionInSerializer,
    InteractionSerializer,
    TimelineSerializer,
)
from channels.models import Interaction
from channels.services.ingest import BATCH_MAX, ItemResult, Status, interactions_ingest
from crm_bank.audit.services import request_ip
from crm_bank.org.decorators import staff_required
from crm_bank.org.selectors import staff_profile_for_user
from customers.models import TOUCHPOINT_CHANNELS

_UNAUTHORISED = OpenApiResponse(DetailSerializer, description="No token, or a wrong, revoked or inactive system's.")
_THROTTLED = OpenApiResponse(DetailSerializer, description="Too many requests for this token; retry later.")


class ChannelAPIView(APIView):
    """The base of the channel API's views (token authentication and the per-token rate limit come
    from REST_FRAMEWORK's defaults)."""


def _errors(errors: dict[str, str], code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"status": Status.ERROR, "errors": errors}, status=code)


@extend_schema(
    summary="Post one interaction", request=InteractionInSerializer, tags=["interactions"],
    responses={
        201: OpenApiResponse(InteractionSerializer, description="Stored."),
        200: OpenApiResponse(InteractionSerializer, description="This source_id and body again: the original."),
        202: OpenApiResponse(HeldSerializer, description="Unknown customer number: held for the bank to resolve."),
        400: OpenApiResponse(ErrorsSerializer, description="Invalid fields; nothing written."),
        401: _UNAUTHORISED,
        409: OpenApiResponse(ConflictSerializer, description="This source_id was used with another body."),
        429: _THROTTLED,
    },
)
class InteractionCreateView(ChannelAPIView):
    def post(self, request: Request) -> Response:
        report = interactions_ingest(system=request.user.system, items=[request.data], object_type="interaction",
                                     ip_address=request_ip(request))
        return _single_response(report.results[0])


def _single_response(result: ItemResult) -> Response:
    if result.status in (Status.CREATED, Status.DUPLICATE):
        data = InteractionSerializer(interaction_for_api(pk=result.id)).data
        return Response(data, status=status.HTTP_201_CREATED if result.status == Status.CREATED else status.HTTP_200_OK)
    if result.status == Status.HELD:
        return Response({"status": Status.HELD, "held_id": result.held_id, "held_status": result.held_status,
                         "detail": _("The bank does not know this customer number; the item is held until it is "
                                     "resolved.")}, status=status.HTTP_202_ACCEPTED)
    if result.status == Status.CONFLICT:
        body = {key: value for key, value in result.as_dict().items() if key != "index"}
        return Response(body, status=status.HTTP_409_CONFLICT)
    return _errors(result.errors)


@extend_schema(
    summary=f"Post up to {BATCH_MAX:,} interactions", request=BatchInSerializer, tags=["interactions"],
    responses={
        200: OpenApiResponse(BatchOutSerializer, description="One result per item, in order, and counts."),
        400: OpenApiResponse(ErrorsSerializer, description="Not a list of items, or too many; nothing written."),
        401: _UNAUTHORISED, 429: _THROTTLED,
    },
)
class InteractionBatchView(ChannelAPIView):
    def post(self, request: Request) -> Response:
        items = request.data.get("items") if isinstance(request.data, dict) else None
        if not isinstance(items, list):
            return _errors({"items": _("Send the items as a list under “items”.")})
        if not items:
            return _errors({"items": _("Send at least one item.")})
        if len(items) > BATCH_MAX:
            return _errors({"items": _("At most %(n)s items in one batch.") % {"n": f"{BATCH_MAX:,}"}})
        report = interactions_ingest(system=request.user.system, items=items, ip_address=request_ip(request))
        return Response({"results": [result.as_dict() for result in report.results], "counts": report.counts()})


@extend_schema(
    summary="A customer's recent contacts", tags=["customers"],
    parameters=[
        OpenApiParameter("limit", int, description=f"1 to {TIMELINE_MAX}, default {TIMELINE_DEFAULT}."),
        OpenApiParameter("channel", str, enum=[str(channel) for channel in TOUCHPOINT_CHANNELS]),
        OpenApiParameter("kind", str, enum=Interaction.Kind.values),
    ],
    responses={200: TimelineSerializer, 400: ErrorsSerializer, 401: _UNAUTHORISED, 404: DetailSerializer,
               429: _THROTTLED},
)
class CustomerTimelineView(ChannelAPIView):
    def get(self, request: Request, cif: str) -> Response:
        limit_text, channel, kind = (request.query_params.get(name, "") for name in ("limit", "channel", "kind"))
        errors = {}
        # fullmatch on ASCII digits: str.isdigit() also accepts "²", which int() refuses.
        if limit_text and not (re.fullmatch(r"[0-9]{1,4}", limit_text) and 1 <= int(limit_text) <= TIMELINE_MAX):
            errors["limit"] = _("Give a whole number from 1 to %(max)d.") % {"max": TIMELINE_MAX}
        if channel and channel not in TOUCHPOINT_CHANNELS:
            errors["channel"] = _("Unknown channel “%(value)s”.") % {"value": channel}
        if kind and kind not in Interaction.Kind.values:
            errors["kind"] = _("Unknown kind “%(value)s”.") % {"value": kind}
        if errors:
            return _errors(errors)
        timeline = customer_timeline_for_system(
            system=request.user.system, cif=cif, limit=int(limit_text or TIMELINE_DEFAULT), channel=channel,
            kind=kind, ip_address=request_ip(request),
        )
        if timeline is None:
            return Response({"detail": _("No customer with this number.")}, status=status.HTTP_404_NOT_FOUND)
        results = InteractionSerializer(timeline.interactions, many=True, context={"masked": timeline.masked}).data
        return Response({"customer": timeline.customer.cif, "masked": timeline.masked, "results": results})


class ChannelSystemOrStaff(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return isinstance(user, ChannelClient) or (user is not None and staff_profile_for_user(user) is not None)


class SchemaView(SpectacularAPIView, ChannelAPIView):
    """The OpenAPI document, for channel systems (their token) and staff (signed in, from the docs page)."""

    authentication_classes = [ChannelTokenAuthentication, SessionAuthentication]
    permission_classes = [ChannelSystemOrStaff]


def api_docs(request: HttpRequest) -> HttpResponse:
    """The contract for staff and the systems' developers: endpoints, fields, answers, the schema link."""
    if not request.user.is_authenticated:
        # An API path answers 401, not the sign-in redirect; the page says where to sign in.
        sign_in = f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': request.get_full_path()})}"
        return render(request, "channels/api_docs.html", {"sign_in_url": sign_in}, status=401)
    return _api_docs_page(request)


@staff_required()
def _api_docs_page(request: HttpRequest) -> HttpResponse:
    fields = [
        {"name": name, "required": field.required, "help": field.help_text or "",
         "choices": list(field.choices.items()) if hasattr(field, "choices") else []}
        for name, field in InteractionInSerializer().fields.items()
    ]
    return render(request, "channels/api_docs.html", {"fields": fields, "batch_max": BATCH_MAX,
                                                       "timeline_max": TIMELINE_MAX})
