from django.urls import include, path
from utilities.urls import get_model_urls

from . import alert_views, git_views, maintenance_views, resource_views, views  # noqa: F401  (registers the model views)

app_name = "netbox_hedgehog"
urlpatterns = (
    path("fabrics/", include(get_model_urls("netbox_hedgehog", "hedgehogfabric", detail=False))),
    path("fabrics/<int:pk>/", include(get_model_urls("netbox_hedgehog", "hedgehogfabric"))),
    path("resources/", include(get_model_urls("netbox_hedgehog", "hedgehogresource", detail=False))),
    path("resources/<int:pk>/", include(get_model_urls("netbox_hedgehog", "hedgehogresource"))),
    path("state-transitions/", include(get_model_urls("netbox_hedgehog", "statetransition", detail=False))),
    path("state-transitions/<int:pk>/", include(get_model_urls("netbox_hedgehog", "statetransition"))),
    path("alerts/", include(get_model_urls("netbox_hedgehog", "reconciliationalert", detail=False))),
    path("alerts/<int:pk>/", include(get_model_urls("netbox_hedgehog", "reconciliationalert"))),
    path(
        "maintenance-windows/",
        include(get_model_urls("netbox_hedgehog", "maintenancewindow", detail=False)),
    ),
    path("maintenance-windows/<int:pk>/", include(get_model_urls("netbox_hedgehog", "maintenancewindow"))),
    path("git-repositories/", include(get_model_urls("netbox_hedgehog", "gitrepository", detail=False))),
    path("git-repositories/<int:pk>/", include(get_model_urls("netbox_hedgehog", "gitrepository"))),
)
