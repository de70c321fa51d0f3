"""How an API caller proves who they are: ``Authorization: Token <token>``.

The token is one of django-rest-knox's (``cases.ApiToken``): looked up by its first
characters, compared by its SHA-512 digest, refused once expired (and then deleted).
Kept apart from ``api.conventions``: REST framework imports its authentication classes
while ``rest_framework.views`` is still loading, so this module must not need it.
"""

from __future__ import annotations

import datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from knox.auth import TokenAuthentication
from knox.signals import token_expired
from rest_framework import exceptions

# A token's "last used" is written at most this often: a list of tokens needs the hour,
# not the second, and a busy client must not turn every read into a write.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)


class ApiTokenAuthentication(TokenAuthentication):
    """knox's token authentication, with three changes.

    - A token that is not valid UTF-8 is an invalid token (401), not a server error.
    - Only the presented token is checked for expiry: knox also loads and sweeps every
      other token of the user on each request, which grows with the number of logins.
      The user's expired tokens are swept at each login instead
      (``cases.accounts.api_token_create``).
    - The token's ``last_used_at`` is kept, to the minute, for its holder's token list.
    """

    def authenticate_credentials(self, token: bytes):
        try:
            token.decode("utf-8")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        return super().authenticate_credentials(token)

    def _cleanup_token(self, auth_token) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            username = auth_token.user.get_username()
            auth_token.delete()
            token_expired.send(sender=self.__class__, username=username, source="auth_token")
            return True
        return False

    def validate_user(self, auth_token):
        user, auth_token = super().validate_user(auth_token)
        now = timezone.now()
        if auth_token.last_used_at is None or now - auth_token.last_used_at > LAST_USED_RESOLUTION:
            type(auth_token).objects.filter(pk=auth_token.pk).update(last_used_at=now)
            auth_token.last_used_at = now
        return user, auth_token
