"""URLs of the server-rendered dashboard pages (the JSON API lives under /api/)."""
from django.urls import path

from benchmarks_app import pages as bench_pages
from drift_app import pages as drift_pages
from search_app import pages as search_pages

urlpatterns = [
    path("", search_pages.home, name="dashboard-home"),
    path("backends/", bench_pages.backend_list, name="dashboard-backends"),
    path("backends/<str:name>/", bench_pages.backend_detail, name="dashboard-backend-detail"),
    path("circuits/", bench_pages.circuit_list, name="dashboard-circuits"),
    path("circuits/<int:pk>/", bench_pages.circuit_detail, name="dashboard-circuit-detail"),
    path("searches/", search_pages.search_list, name="dashboard-searches"),
    path("searches/<int:pk>/", search_pages.search_detail, name="dashboard-search-detail"),
    path("leaderboards/architectures/", search_pages.architecture_leaderboard,
         name="dashboard-leaderboard-architectures"),
    path("alerts/", drift_pages.alert_list, name="dashboard-alerts"),
]
