from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path(
        "api/v1/platforms/<slug:code>/acknowledgements/",
        views.AcknowledgementView.as_view(),
        name="acknowledge",
    ),
    path("notifications/", views.NotificationsView.as_view(), name="list"),
]
