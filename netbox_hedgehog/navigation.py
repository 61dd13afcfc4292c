from django.utils.translation import gettext_lazy as _
from netbox.plugins import PluginMenu, PluginMenuButton, PluginMenuItem

menu = PluginMenu(
    label=_("Hedgehog"),
    icon_class="mdi mdi-hexagon-multiple-outline",
    groups=(
        (
            _("Fabrics"),
            (
                PluginMenuItem(
                    link="plugins:netbox_hedgehog:hedgehogfabric_list",
                    link_text=_("Fabrics"),
                    permissions=["netbox_hedgehog.view_hedgehogfabric"],
                    buttons=(
                        PluginMenuButton(
                            link="plugins:netbox_hedgehog:hedgehogfabric_add",
                            title=_("Add"),
                            icon_class="mdi mdi-plus-thick",
                            permissions=["netbox_hedgehog.add_hedgehogfabric"],
                        ),
                        PluginMenuButton(
                            link="plugins:netbox_hedgehog:hedgehogfabric_bulk_import",
                            title=_("Import"),
                            icon_class="mdi mdi-upload",
                            permissions=["netbox_hedgehog.add_hedgehogfabric"],
                        ),
                    ),
                ),
                PluginMenuItem(
                    link="plugins:netbox_hedgehog:hedgehogresource_list",
                    link_text=_("Resources"),
                    permissions=["netbox_hedgehog.view_hedgehogresource"],
                ),
                PluginMenuItem(
                    link="plugins:netbox_hedgehog:hedgehogresource_switches",
                    link_text=_("Switches"),
                    permissions=["netbox_hedgehog.view_hedgehogresource"],
                ),
                PluginMenuItem(
                    link="plugins:netbox_hedgehog:reconciliationalert_list",
                    link_text=_("Alerts"),
                    permissions=["netbox_hedgehog.view_reconciliationalert"],
                ),
                PluginMenuItem(
                    link="plugins:netbox_hedgehog:maintenancewindow_list",
                    link_text=_("Maintenance windows"),
                    permissions=["netbox_hedgehog.view_maintenancewindow"],
                    buttons=(
                        PluginMenuButton(
                            link="plugins:netbox_hedgehog:maintenancewindow_add",
                            title=_("Add"),
                            icon_class="mdi mdi-plus-thick",
                            permissions=["netbox_hedgehog.add_maintenancewindow"],
                        ),
                    ),
                ),
                PluginMenuItem(
                    link="plugins:netbox_hedgehog:gitrepository_list",
                    link_text=_("Git repositories"),
                    permissions=["netbox_hedgehog.view_gitrepository"],
                    buttons=(
                        PluginMenuButton(
                            link="plugins:netbox_hedgehog:gitrepository_add",
                            title=_("Add"),
                            icon_class="mdi mdi-plus-thick",
                            permissions=["netbox_hedgehog.add_gitrepository"],
                        ),
                    ),
                ),
                PluginMenuItem(
                    link="plugins:netbox_hedgehog:statetransition_list",
                    link_text=_("State transitions"),
                    permissions=["netbox_hedgehog.view_statetransition"],
                ),
            ),
        ),
    ),
)
