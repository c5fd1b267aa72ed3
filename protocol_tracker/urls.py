from django.contrib import admin
from django.urls import include, path

from protocol_tracker.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("protocol_tracker.api.urls")),
    path("", include("protocol_tracker.web.urls")),
]
