from django.urls import path

from . import views

urlpatterns = [
    path("jobs/<uuid:job_id>/", views.JobDetailView.as_view(), name="job-detail"),
    path("backends/", views.BackendList.as_view(), name="backend-list"),
    path("backends/<str:name>/", views.BackendDetail.as_view(), name="backend-detail"),
    path("backends/<str:name>/snapshots/", views.SnapshotList.as_view(), name="snapshot-list"),
    path("backends/<str:name>/snapshots/<int:snapshot_id>/", views.SnapshotDetail.as_view(), name="snapshot-detail"),
    path("backends/<str:name>/snapshots/<int:snapshot_id>/promote/", views.SnapshotPromote.as_view(),
         name="snapshot-promote"),
    path("backends/<str:name>/snapshots/<int:snapshot_id>/hide/", views.SnapshotHide.as_view(), name="snapshot-hide"),
    path("backends/<str:name>/trends/", views.TrendView.as_view(), name="backend-trends"),
    path("backends/<str:name>/qubits/<int:qubit>/history/", views.QubitHistoryView.as_view(), name="qubit-history"),
    path("backends/<str:name>/edges/<int:q0>-<int:q1>/history/", views.EdgeHistoryView.as_view(),
         name="edge-history"),
    path("backends/<str:name>/diff/", views.DiffView.as_view(), name="backend-diff"),
    path("calibrations/upload/", views.CalibrationUpload.as_view(), name="calibration-upload"),
    path("circuits/", views.CircuitListCreate.as_view(), name="circuit-list"),
    path("circuits/<int:pk>/", views.CircuitDetail.as_view(), name="circuit-detail"),
    path("circuits/<int:pk>/cost-trend/", views.CostTrend.as_view(), name="circuit-cost-trend"),
    path("estimates/", views.EstimateListCreate.as_view(), name="estimate-list"),
    path("estimates/<int:pk>/", views.EstimateDetail.as_view(), name="estimate-detail"),
    path("leaderboards/backends/", views.BackendLeaderboard.as_view(), name="leaderboard-backends"),
    path("leaderboards/circuits/", views.CircuitLeaderboard.as_view(), name="leaderboard-circuits"),
]
