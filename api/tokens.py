"""The caller's API tokens: log out, log out everywhere, list them and revoke one.

``POST /api/v1/auth/logout/`` revokes the token the request presents,
``POST /api/v1/auth/logout-all/`` every token of the caller, ``GET /api/v1/auth/tokens/``
lists the caller's tokens that still work and ``DELETE /api/v1/auth/tokens/<id>/``
revokes one. Logging in (``POST /api/v1/auth/token/``) is ``api.conventions.TokenView``.
"""

from __future__ import annotations

from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from api.authentication import ApiTokenAuthentication
from cases import accounts
from cases.models import ApiToken
from cases.selectors import api_token_of, api_tokens_of


class LogoutView(APIView):
    """``POST /api/v1/auth/logout/``: revoke the token this request presents."""

    authentication_classes = (ApiTokenAuthentication,)
    permission_classes = (IsAuthenticated,)

    def post(self, request):
        accounts.api_token_revoke(token=request.auth, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    """``POST /api/v1/auth/logout-all/``: revoke every API token of the caller, this one
    included (the caller's other systems and scripts must log in again)."""

    authentication_classes = (ApiTokenAuthentication,)
    permission_classes = (IsAuthenticated,)

    def post(self, request):
        accounts.api_tokens_revoke_all(user=request.user, reason="logout of all tokens")
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiTokenSerializer(serializers.ModelSerializer):
    prefix = serializers.CharField(
        read_only=True,
        help_text="The token's first characters, to tell tokens apart (not a secret).",
    )
    current = serializers.SerializerMethodField(
        help_text="Whether this is the token the request was made with."
    )
    last_used_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Last request made with it (to the minute)."
    )

    class Meta:
        model = ApiToken
        fields = ["id", "prefix", "created", "expiry", "last_used_at", "current"]
        read_only_fields = fields

    def get_current(self, token) -> bool:
        auth = getattr(self.context.get("request"), "auth", None)
        return isinstance(auth, ApiToken) and auth.pk == token.pk


class ApiTokenViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The caller's own API tokens that still work, newest first; ``DELETE`` revokes one.
    Nobody sees another person's tokens (404)."""

    serializer_class = ApiTokenSerializer

    def get_queryset(self):
        return api_tokens_of(self.request.user)

    def get_object(self):
        return api_token_of(self.request.user, self.kwargs["pk"])

    def perform_destroy(self, instance):
        accounts.api_token_revoke(token=instance, by=self.request.user)
