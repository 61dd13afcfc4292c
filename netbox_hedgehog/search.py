from netbox.search import SearchIndex, register_search

from .models import HedgehogFabric


@register_search
class HedgehogFabricIndex(SearchIndex):
    model = HedgehogFabric
    fields = (
        ("name", 100),
        ("description", 500),
        ("connection_error", 2000),
        ("sync_error", 2000),
        ("comments", 5000),
    )
    display_attrs = ("status", "connection_status", "sync_status", "description")
