"""URLs of the entity portal, mounted at ``/portal/`` in the ``portal`` namespace."""

from django.urls import include, path

from portal import views

app_name = "portal"

urlpatterns = [
    path("", views.index, name="index"),
    # accounts
    path("signup/", views.sign_up, name="signup"),
    path("signup/done/", views.sign_up_done, name="signup_done"),
    path("signup/resend/", views.verification_resend, name="verification_resend"),
    path("verify/<str:token>/", views.verify, name="verify"),
    path("language/", views.language_switch, name="language"),
    path("accessibility/", views.accessibility, name="accessibility"),
    path("i18n/", include("django.conf.urls.i18n")),  # portal:set_language
    # acting for a subject; company accounts
    path("link/", views.link_request, name="link_request"),
    path("organisation/", views.organisation, name="organisation"),
    path("organisation/<int:pk>/invite/", views.organisation_invite, name="organisation_invite"),
    path(
        "organisation/<int:pk>/members/<int:member_pk>/remove/",
        views.organisation_member_remove,
        name="organisation_member_remove",
    ),
    path(
        "organisation/<int:pk>/invitations/<int:invitation_pk>/revoke/",
        views.organisation_invitation_revoke,
        name="organisation_invitation_revoke",
    ),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path(
        "representations/<int:pk>/decide/",
        views.representation_decide,
        name="representation_decide",
    ),
    path(
        "representations/<int:pk>/proof/", views.representation_proof, name="representation_proof"
    ),
    path(
        "officer/representations/",
        views.officer_representations,
        name="officer_representations",
    ),
    # records and cases
    path("records/", views.records, name="records"),
    path("file/", views.case_file, name="file"),
    path("cases/", views.case_list, name="cases"),
    path("cases/<int:pk>/", views.case_page, name="case"),
    path("cases/<int:pk>/evidence/", views.evidence_upload, name="evidence_upload"),
    path("cases/<int:pk>/materials-supplied/", views.materials_supplied, name="materials_supplied"),
    path("cases/<int:pk>/withdraw/", views.case_withdraw, name="withdraw"),
    path("cases/<int:pk>/statement/", views.case_statement, name="statement"),
    path("cases/<int:pk>/letters/<int:letter_pk>/", views.letter_download, name="letter"),
    path("cases/<int:pk>/service-consent/", views.case_service_consent, name="service_consent"),
    path("cases/<int:pk>/appeals/", views.case_appeal, name="appeal"),
    path("service-consent/", views.account_service_consent, name="account_service_consent"),
    path("notifications/", views.notifications, name="notifications"),
    path("api-tokens/", views.api_tokens, name="api_tokens"),
]
