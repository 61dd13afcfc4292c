"""Demo data for a development instance: an admin user, an API token, example fabrics.

Safe to run again: what exists is kept.
"""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from netbox_hedgehog.choices import TriggerChoices
from netbox_hedgehog.models import HedgehogFabric
from netbox_hedgehog.state import machine as m
from netbox_hedgehog.state import transition

# name -> (description, the transitions that bring it to its demo state: (field, to, trigger, reason))
DEMO_FABRICS = {
    "lab-planned": ("A fabric still being planned", []),
    "dc1-fabric": (
        "Production fabric, connected and in sync",
        [
            (m.CONNECTION, m.TESTING, TriggerChoices.CONNECTION_TEST, "Demo: connection test"),
            (m.CONNECTION, m.CONNECTED, TriggerChoices.CONNECTION_TEST, "Demo: API server answered"),
            (m.STATUS, m.ACTIVE, TriggerChoices.MANUAL, "Demo: deployment complete"),
            (m.SYNC, m.SYNCING, TriggerChoices.SYNC, "Demo: first sync"),
            (m.SYNC, m.IN_SYNC, TriggerChoices.SYNC, "Demo: sync complete"),
        ],
    ),
    "dc2-fabric": (
        "Active fabric whose cluster stopped answering",
        [
            (m.STATUS, m.ACTIVE, TriggerChoices.MANUAL, "Demo: deployment complete"),
            (m.CONNECTION, m.TESTING, TriggerChoices.CONNECTION_TEST, "Demo: connection test"),
            (m.CONNECTION, m.CONNECTED, TriggerChoices.CONNECTION_TEST, "Demo: API server answered"),
            (m.SYNC, m.SYNCING, TriggerChoices.SYNC, "Demo: first sync"),
            (m.SYNC, m.IN_SYNC, TriggerChoices.SYNC, "Demo: sync complete"),
            (
                m.CONNECTION,
                m.FAILED,
                TriggerChoices.KUBERNETES_ERROR,
                "Demo: connection refused by 10.0.0.1:6443",
            ),
        ],
    ),
    "edge-fabric": (
        "Fabric in a maintenance window",
        [
            (m.STATUS, m.ACTIVE, TriggerChoices.MANUAL, "Demo: deployment complete"),
            (m.STATUS, m.MAINTENANCE, TriggerChoices.MANUAL, "Demo: switch replacement"),
        ],
    ),
    "old-fabric": (
        "A retired fabric",
        [
            (m.STATUS, m.ACTIVE, TriggerChoices.MANUAL, "Demo: deployment complete"),
            (m.STATUS, m.DECOMMISSIONED, TriggerChoices.MANUAL, "Demo: replaced by dc1-fabric"),
        ],
    ),
}


class Command(BaseCommand):
    help = "Create the demo admin user, an API token and example fabrics (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default="admin")
        parser.add_argument(
            "--api-token-file", help="Write the admin's API authorization header value to this file"
        )

    def handle(self, *args, username, password, api_token_file, **options):
        user = self._admin(username, password)
        if api_token_file:
            self._token(user, Path(api_token_file))
        for name, (description, steps) in DEMO_FABRICS.items():
            if HedgehogFabric.objects.filter(name=name).exists():
                continue
            with transaction.atomic():
                fabric = HedgehogFabric(name=name, description=description)
                fabric.save()
                for field, to, trigger, reason in steps:
                    transition(fabric, field, to, trigger=trigger, reason=reason, user=user)
            self.stdout.write(
                f"created fabric {name}: {fabric.status}/{fabric.connection_status}/{fabric.sync_status}"
            )

    def _admin(self, username, password):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_superuser(username=username, email="", password=password)
            self.stdout.write(f"created superuser {username}")
        return user

    def _token(self, user, path):
        from users.models import Token

        if path.exists():
            header = path.read_text().strip()
            key = header.split(".", 1)[0].removeprefix("Bearer nbt_")
            if Token.objects.filter(user=user, key=key).exists():
                return
        token = Token(user=user, description="netbox-hedgehog demo")
        token.full_clean()
        token.save()
        path.write_text(token.get_auth_header_prefix() + token.token + "\n")
        path.chmod(0o600)
        self.stdout.write(f"wrote the API authorization header to {path}")
