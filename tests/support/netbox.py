"""Glue for NetBox's own test mixins."""


class PluginURLMixin:
    """NetBox's view test mixins build core URL names; a plugin's are namespaced under plugins:."""

    def _get_base_url(self):
        return f"plugins:netbox_hedgehog:{self.model._meta.model_name}_{{}}"
