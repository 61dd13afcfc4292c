from netbox.search import SearchIndex, register_search

from .models import GitRepository, HedgehogFabric, MaintenanceWindow, ReconciliationAlert


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


@register_search
class ReconciliationAlertIndex(SearchIndex):
    model = ReconciliationAlert
    fields = (("message", 500),)
    display_attrs = ("fabric", "type", "severity", "status")


@register_search
class MaintenanceWindowIndex(SearchIndex):
    model = MaintenanceWindow
    fields = (("name", 100), ("reason", 500))
    display_attrs = ("start", "end", "reason")


@register_search
class GitRepositoryIndex(SearchIndex):
    model = GitRepository
    fields = (
        ("name", 100),
        ("remote_url", 300),
        ("description", 500),
        ("connection_error", 2000),
        ("comments", 5000),
    )
    display_attrs = ("remote_url", "branch", "connection_status", "description")
