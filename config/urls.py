"""URL configuration."""

from django.contrib import admin
from django.urls import include, path

from config.logins import RedressAuthViewset
from config.views import favicon
from portal.verification import letter_verify
from workspace.views import home

urlpatterns = [
    path("", home, name="home"),
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    # Log in, log out, change or reset a password (viewflow's Material pages; resets are
    # limited, config.logins); avatars are not uploaded, so the profile page is off.
    path(
        "accounts/",
        RedressAuthViewset(allow_password_change=True, with_profile_view=False).urls,
    ),
    path("workflow/", include("workspace.urls")),
    path("exports/", include("workspace.exports_urls")),
    path("portal/", include("portal.urls")),
    path("verify/<str:code>/", letter_verify, name="letter_verify"),
    path("", include("api.urls")),
]

handler404 = "config.views.page_not_found"
handler500 = "config.views.server_error"
