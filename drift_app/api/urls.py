from django.urls import path

from . import views

urlpatterns = [
    path("watches/", views.WatchListCreate.as_view(), name="watch-list"),
    path("watches/<int:pk>/", views.WatchDetail.as_view(), name="watch-detail"),
    path("watches/<int:pk>/deliveries/", views.DeliveryList.as_view(), name="watch-deliveries"),
    path("alerts/", views.AlertList.as_view(), name="alert-list"),
    path("alerts/<int:pk>/", views.AlertDetail.as_view(), name="alert-detail"),
]
