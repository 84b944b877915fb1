from django.urls import path

from . import views

urlpatterns = [
    path("jobs/<uuid:job_id>/", views.JobDetailView.as_view(), name="job-detail"),
]
