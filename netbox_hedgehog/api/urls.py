from netbox.api.routers import NetBoxRouter

from . import views

router = NetBoxRouter()
router.APIRootView = views.HedgehogRootView
router.register("fabrics", views.HedgehogFabricViewSet)
router.register("state-transitions", views.StateTransitionViewSet)

app_name = "netbox_hedgehog-api"
urlpatterns = router.urls
