from netbox.api.viewsets import NetBoxModelViewSet

from .. import filtersets
from ..models import HedgehogResource
from .errors import PluginErrorsMixin
from .serializers import HedgehogResourceSerializer
from .views import PARSERS


class HedgehogResourceViewSet(PluginErrorsMixin, NetBoxModelViewSet):
    parser_classes = PARSERS
    queryset = HedgehogResource.objects.select_related("fabric").prefetch_related("tags")
    serializer_class = HedgehogResourceSerializer
    filterset_class = filtersets.HedgehogResourceFilterSet
