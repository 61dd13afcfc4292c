"""Re-encrypt every stored cluster credential with the first configured credentials_key.

Key rotation: put the new key first in PLUGINS_CONFIG["netbox_hedgehog"]["credentials_key"] (a
list), keep the old one after it, restart, run this command, then drop the old key.

All or nothing: nothing is re-encrypted when a credential cannot be decrypted, or when a stored
kubeconfig breaks the rule that a kubeconfig is data (validators.kubeconfig: no exec, auth-provider,
tokenFile or file paths). Such a kubeconfig was stored before the rule; replace it on its fabric
(it cannot be used anyway: its connection tests fail with bad_configuration), then rotate.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from netbox_hedgehog.credentials import CredentialsUnreadable, decrypt, rotate
from netbox_hedgehog.models import HedgehogFabric
from netbox_hedgehog.models.fabric import SECRET_FIELDS
from netbox_hedgehog.validators.kubeconfig import KubeconfigRefused, safe_kubeconfig


class Command(BaseCommand):
    help = "Re-encrypt stored cluster credentials with the first configured credentials_key."

    def handle(self, *args, **options):
        rotated = 0
        unreadable, unsafe = [], []
        with transaction.atomic():
            fabrics = HedgehogFabric.objects.select_for_update().only(
                "pk", "name", "kubeconfig_context", *SECRET_FIELDS
            )
            for fabric in fabrics:
                values = {}
                for name in SECRET_FIELDS:
                    stored = getattr(fabric, name)
                    if not stored:
                        continue
                    try:
                        values[name] = rotate(stored)
                        if name == "kubeconfig":
                            safe_kubeconfig(decrypt(stored), fabric.kubeconfig_context)
                    except CredentialsUnreadable:
                        unreadable.append(f"{fabric.name}.{name}")
                    except KubeconfigRefused as exc:
                        unsafe.append(f"{fabric.name}: {exc.message}")
                if values:
                    # a queryset update: same secrets, so no change-log entry and no connection test
                    HedgehogFabric.objects.filter(pk=fabric.pk).update(**values)
                    rotated += len(values)
            if unreadable:
                raise CommandError(
                    "Nothing was changed: these credentials cannot be decrypted with any configured key: "
                    + ", ".join(unreadable)
                )
            if unsafe:
                raise CommandError(
                    "Nothing was changed: these stored kubeconfigs are refused (replace them on their "
                    "fabric first):\n  " + "\n  ".join(unsafe)
                )
        self.stdout.write(f"re-encrypted {rotated} credential(s) with the first key")
