"""netbox hedgehog_install_scripts: make the plugin's custom scripts available in NetBox.

NetBox 4.7 loads scripts from modules under SCRIPTS_ROOT (each a ScriptModule); a plugin cannot
register them by itself. This writes a module there that imports the plugin's scripts (so they stay
the installed plugin's code: upgrading the plugin upgrades them) and registers it. Safe to run again.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from extras.models import ScriptModule

MODULE = "netbox_hedgehog_scripts.py"
CONTENT = '''"""The netbox-hedgehog plugin's scripts (installed by netbox hedgehog_install_scripts).

Each class only names the plugin's script here, so that NetBox lists it under its own name; the
code is the installed plugin's (netbox_hedgehog.scripts), upgraded with it.
"""

from netbox_hedgehog import scripts


class AuditFabricStates(scripts.AuditFabricStates):
    pass


class BulkMaintenance(scripts.BulkMaintenance):
    pass


class RetryFailedFabrics(scripts.RetryFailedFabrics):
    pass


script_order = (AuditFabricStates, BulkMaintenance, RetryFailedFabrics)
'''


class Command(BaseCommand):
    help = (
        "Install the plugin's custom scripts (Audit fabric states, Bulk maintenance, Retry failed fabrics)."
    )
    # NetBox's system checks (URLs, the GraphQL schema) take three times as long as the rest of the
    # command (25 s against 7 s under `make demo`), which runs it while NetBox starts and runs them.
    requires_system_checks = []

    def handle(self, *args, **options):
        root = Path(settings.SCRIPTS_ROOT)
        root.mkdir(parents=True, exist_ok=True)
        path = root / MODULE
        if not path.exists() or path.read_text() != CONTENT:
            path.write_text(CONTENT)
            self.stdout.write(f"wrote {path}")
        module = ScriptModule.objects.filter(file_root="scripts", file_path=MODULE).first()
        if module is None:
            module = ScriptModule(file_root="scripts", file_path=MODULE)
            module.full_clean()
        module.save()  # syncs its scripts
        names = ", ".join(script.name for script in module.scripts.all())
        self.stdout.write(f"scripts available: {names}")
