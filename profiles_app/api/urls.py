from django.urls import path

from . import views

urlpatterns = [
    path("execution-profiles/", views.ProfileList.as_view(), name="execution-profile-list"),
    path("execution-profiles/fit/", views.ProfileFit.as_view(), name="execution-profile-fit"),
    path("execution-profiles/team-defaults/", views.TeamDefaults.as_view(), name="execution-profile-team-defaults"),
    path("execution-profiles/<str:ref>/", views.ProfileDetail.as_view(), name="execution-profile-detail"),
]
