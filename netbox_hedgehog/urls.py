from django.urls import include, path
from utilities.urls import get_model_urls

from . import views  # noqa: F401  (registers the model views)

app_name = "netbox_hedgehog"
urlpatterns = (
    path("fabrics/", include(get_model_urls("netbox_hedgehog", "hedgehogfabric", detail=False))),
    path("fabrics/<int:pk>/", include(get_model_urls("netbox_hedgehog", "hedgehogfabric"))),
    path("state-transitions/", include(get_model_urls("netbox_hedgehog", "statetransition", detail=False))),
    path("state-transitions/<int:pk>/", include(get_model_urls("netbox_hedgehog", "statetransition"))),
)
