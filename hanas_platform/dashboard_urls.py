"""URLs of the server-rendered dashboard pages (the JSON API lives under /api/)."""
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.urls import path

from benchmarks_app import pages as bench_pages
from drift_app import pages as drift_pages
from search_app import pages as search_pages


def page(view):
    """A dashboard page: with HANAS_PUBLIC_READS=0 an anonymous visitor is sent to the login page (LOGIN_URL),
    as the API answers 401/403 to anonymous reads then."""
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not settings.PUBLIC_READS and not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapped


urlpatterns = [
    path("", page(search_pages.home), name="dashboard-home"),
    path("backends/", page(bench_pages.backend_list), name="dashboard-backends"),
    path("backends/<str:name>/", page(bench_pages.backend_detail), name="dashboard-backend-detail"),
    path("circuits/", page(bench_pages.circuit_list), name="dashboard-circuits"),
    path("circuits/<int:pk>/", page(bench_pages.circuit_detail), name="dashboard-circuit-detail"),
    path("searches/", page(search_pages.search_list), name="dashboard-searches"),
    path("searches/<int:pk>/", page(search_pages.search_detail), name="dashboard-search-detail"),
    path("leaderboards/architectures/", page(search_pages.architecture_leaderboard),
         name="dashboard-leaderboard-architectures"),
    path("alerts/", page(drift_pages.alert_list), name="dashboard-alerts"),
]
