from netbox.api.viewsets import NetBoxModelViewSet

from .. import filtersets
from ..models import HedgehogResource
from .serializers import HedgehogResourceSerializer


class HedgehogResourceViewSet(NetBoxModelViewSet):
    queryset = HedgehogResource.objects.select_related("fabric").prefetch_related("tags")
    serializer_class = HedgehogResourceSerializer
    filterset_class = filtersets.HedgehogResourceFilterSet
