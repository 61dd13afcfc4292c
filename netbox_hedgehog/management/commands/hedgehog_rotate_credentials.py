"""Re-encrypt every stored cluster credential with the first configured credentials_key.

Key rotation: put the new key first in PLUGINS_CONFIG["netbox_hedgehog"]["credentials_key"] (a
list), keep the old one after it, restart, run this command, then drop the old key.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from netbox_hedgehog.credentials import CredentialsUnreadable, rotate
from netbox_hedgehog.models import HedgehogFabric
from netbox_hedgehog.models.fabric import SECRET_FIELDS


class Command(BaseCommand):
    help = "Re-encrypt stored cluster credentials with the first configured credentials_key."

    def handle(self, *args, **options):
        rotated = 0
        unreadable = []
        with transaction.atomic():
            for fabric in HedgehogFabric.objects.select_for_update().only("pk", "name", *SECRET_FIELDS):
                values = {}
                for name in SECRET_FIELDS:
                    stored = getattr(fabric, name)
                    if not stored:
                        continue
                    try:
                        values[name] = rotate(stored)
                    except CredentialsUnreadable:
                        unreadable.append(f"{fabric.name}.{name}")
                if values:
                    # a queryset update: same secrets, so no change-log entry and no connection test
                    HedgehogFabric.objects.filter(pk=fabric.pk).update(**values)
                    rotated += len(values)
            if unreadable:
                raise CommandError(
                    "Nothing was changed: these credentials cannot be decrypted with any configured key: "
                    + ", ".join(unreadable)
                )
        self.stdout.write(f"re-encrypted {rotated} credential(s) with the first key")
