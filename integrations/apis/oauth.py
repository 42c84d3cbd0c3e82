"""OAuth connect: start (tenant API) and the provider's redirect back (public; the state is the credential)."""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.utils.html import format_html
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import StrictSerializer
from integrations.apis.families import FamilyApi
from integrations.errors import ApplicationError
from integrations.oauth.services import oauth_complete, oauth_start
from integrations.oauth.state import state_consume


class OAuthStartInputSerializer(StrictSerializer):
    redirect_uri = serializers.URLField(max_length=1000, required=False)


class OAuthStartSerializer(serializers.Serializer):
    authorization_url = serializers.URLField()
    state = serializers.CharField()
    expires_at = serializers.DateTimeField()


class OAuthConnectedSerializer(serializers.Serializer):
    integration_id = serializers.UUIDField(source="pk")
    family = serializers.CharField()
    provider = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField(), source="oauth_scopes")
    connected_at = serializers.DateTimeField(source="oauth_connected_at")


class OAuthStartApi(FamilyApi):
    @extend_schema(request=OAuthStartInputSerializer, responses=OAuthStartSerializer)
    def post(self, request, pk):
        integration = self.get_integration(pk)
        body = OAuthStartInputSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        started = oauth_start(integration=integration, redirect_uri=body.validated_data.get("redirect_uri"),
                              return_to="", actor=self.actor)
        return Response(OAuthStartSerializer(started).data)


class OAuthCallbackApi(APIView):
    """Where the provider sends the user's browser back with `code` and `state` (or `error`)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[OpenApiParameter(name, OpenApiTypes.STR, required=name == "state")
                    for name in ("state", "code", "error", "error_description")],
        responses=OAuthConnectedSerializer, auth=[])
    def get(self, request):
        # Providers add their own parameters (scope, iss, session_state, realmId, ...): read what
        # the flow needs and ignore the rest instead of refusing the user's redirect.
        query = request.query_params
        state = state_consume(query.get("state", ""))
        try:
            completion = oauth_complete(state=state, code=query.get("code"), error=query.get("error"),
                                        error_description=query.get("error_description"),
                                        realm_id=query.get("realmId"))
        except ApplicationError as exc:
            if not state.return_to:
                raise
            messages.error(request._request, f"Connecting failed: {exc.detail}", fail_silently=True)
            return HttpResponseRedirect(state.return_to)
        integration = completion.integration
        if completion.return_to:
            messages.success(request._request, f"Connected {integration.display_name} to its provider.",
                             fail_silently=True)
            return HttpResponseRedirect(completion.return_to)
        data = {"status": "connected", **OAuthConnectedSerializer(integration).data}
        if "text/html" in request.META.get("HTTP_ACCEPT", ""):
            return HttpResponse(format_html(
                "<!doctype html><html><head><meta charset='utf-8'><title>Connected</title></head>"
                "<body style='font-family:sans-serif;margin:3rem'><h1>Connected</h1>"
                "<p>{} is connected to {}. You can close this window.</p></body></html>",
                integration.display_name, integration.provider))
        return Response(data)
