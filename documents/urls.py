"""URLs of the documents app; config/urls.py includes them at the root."""

from django.urls import path

from documents import views

app_name = "documents"

urlpatterns = [
    path("verify/<str:code>/", views.letter_verify, name="verify"),
    path("letters/<int:pk>/retry/", views.letter_retry, name="letter_retry"),
    path("exports/", views.export_list, name="exports"),
    path("exports/<int:pk>/", views.export_detail, name="export_detail"),
    path("exports/<int:pk>/progress/", views.export_progress, name="export_progress"),
    path("exports/<int:pk>/download/", views.export_download, name="export_download"),
]
