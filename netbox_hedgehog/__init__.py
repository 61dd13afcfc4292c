"""netbox-hedgehog: manage Hedgehog open network fabrics from NetBox."""

from django.core.exceptions import ImproperlyConfigured
from netbox.plugins import PluginConfig

__version__ = "0.1.0"


class HedgehogConfig(PluginConfig):
    name = "netbox_hedgehog"
    verbose_name = "Hedgehog"
    description = "Hedgehog open network fabrics: lifecycle, cluster connection and sync state"
    version = __version__
    author = "netbox-hedgehog developers"
    base_url = "hedgehog"
    graphql_schema = "graphql.schema.schema"
    min_version = "4.7.0"
    max_version = "4.7.99"
    default_settings = {
        # Page size of a fabric's history table on its detail page.
        "history_page_size": 25,
    }

    def ready(self):
        super().ready()
        from . import settings as plugin_settings

        try:
            plugin_settings.validate()
        except ValueError as exc:
            raise ImproperlyConfigured(f"netbox_hedgehog: {exc}") from exc


config = HedgehogConfig
