from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .api import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/health/", health, name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/auth/", include("rest_framework.urls")),
    path("api/", include("benchmarks_app.api.urls")),
    path("api/", include("search_app.api.urls")),
    path("api/", include("profiles_app.api.urls")),
    path("api/", include("drift_app.api.urls")),
    # Dashboard pages (HTML; they read the API above)
    path("", include("hanas_platform.dashboard_urls")),
]

# JSON error answers under /api/ (HTML pages elsewhere)
handler400 = "hanas_platform.api.bad_request"
handler404 = "hanas_platform.api.not_found"
handler500 = "hanas_platform.api.server_error"
