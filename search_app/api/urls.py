from django.urls import path

from . import views

urlpatterns = [
    path("searches/", views.SearchRunListCreate.as_view(), name="search-list"),
    path("searches/<int:pk>/", views.SearchRunDetail.as_view(), name="search-detail"),
    path("searches/<int:pk>/candidates/", views.CandidateList.as_view(), name="search-candidates"),
    path("searches/<int:pk>/pareto/", views.ParetoView.as_view(), name="search-pareto"),
    path("searches/<int:pk>/cancel/", views.CancelView.as_view(), name="search-cancel"),
    path("searches/<int:pk>/compare/", views.CompareView.as_view(), name="search-compare"),
    path("searches/<int:pk>/fronts/", views.RunFronts.as_view(), name="search-fronts"),
    path("searches/<int:pk>/fronts/<str:ref>/", views.RunFrontDetail.as_view(), name="search-front-detail"),
    path("leaderboards/architectures/robust/", views.RobustArchitectureLeaderboard.as_view(),
         name="leaderboard-architectures-robust"),
    path("datasets/", views.DatasetListCreate.as_view(), name="dataset-list"),
    path("datasets/<int:pk>/", views.DatasetDetail.as_view(), name="dataset-detail"),
    path("teams/", views.TeamList.as_view(), name="team-list"),
    path("teams/<str:name>/members/", views.TeamMembers.as_view(), name="team-members"),
    path("teams/<str:name>/members/<str:username>/", views.TeamMemberDetail.as_view(), name="team-member-detail"),
    path("leaderboards/architectures/", views.ArchitectureLeaderboard.as_view(), name="leaderboard-architectures"),
]
