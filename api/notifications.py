"""``/notifications/``: the signed-in person's in-app notifications as JSON.

``GET`` lists the newest 50 they may still see (unread count first); ``POST`` marks them
read, all or some by ``id``. The portal's page and this endpoint read and mark through the
same functions (``notifications.selectors``, ``notifications.services``).
"""

from __future__ import annotations

from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views import View

from cases.ids import id_parse
from notifications.selectors import notifications_for
from notifications.services import notifications_mark_read


def error(status: int, code: str, message: str, **extra) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, **extra}, status=status)


class NotificationsView(View):
    """``GET`` the signed-in user's notifications (unread count first); ``POST`` marks read."""

    def get(self, request):
        if not request.user.is_authenticated:
            return error(401, "not_authenticated", _("Sign in first."))
        mine = notifications_for(request.user)
        return JsonResponse(
            {
                "unread": mine.filter(read_at__isnull=True).count(),
                "results": [
                    {
                        "id": n.pk,
                        "kind": n.kind,
                        "title": n.title,
                        "body": n.body,
                        "url": n.url,
                        "created_at": n.created_at.isoformat(),
                        "read": n.read_at is not None,
                    }
                    for n in mine[:50]
                ],
            }
        )

    def post(self, request):
        if not request.user.is_authenticated:
            return error(401, "not_authenticated", _("Sign in first."))
        ids = [id_parse(i) for i in request.POST.getlist("id")]
        if None in ids:
            return error(
                400,
                "invalid_input",
                _("Nothing was marked read: a notification number is not valid."),
                field="id",
            )
        marked = notifications_mark_read(user=request.user, ids=ids or None)
        return JsonResponse({"marked_read": marked})
