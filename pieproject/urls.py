from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from trading.views.accounts import LoginView

handler400 = "pieproject.api_errors.bad_request"
handler403 = "pieproject.api_errors.permission_denied"
handler404 = "pieproject.api_errors.page_not_found"
handler500 = "pieproject.api_errors.server_error"


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("ops/", include("trading.ops_urls")),
    path("api/v1/", include("pieproject.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("accounts/login/", LoginView.as_view(), name="login"),  # staff land on /ops/
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("trading.urls")),
    path("", include("pies.urls")),
]
