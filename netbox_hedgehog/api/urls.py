from netbox.api.routers import NetBoxRouter

from . import resource_views, views

router = NetBoxRouter()
router.APIRootView = views.HedgehogRootView
router.register("fabrics", views.HedgehogFabricViewSet)
router.register("resources", resource_views.HedgehogResourceViewSet)
router.register("state-transitions", views.StateTransitionViewSet)
router.register("alerts", views.ReconciliationAlertViewSet)
router.register("maintenance-windows", views.MaintenanceWindowViewSet)
router.register("git-repositories", views.GitRepositoryViewSet)

app_name = "netbox_hedgehog-api"
urlpatterns = router.urls
