"""Demo data for a development instance: an admin user, an API token, example fabrics.

Safe to run again: what exists is kept. With ``--cluster-kubeconfig``, two more fabrics reach the
demo cluster (the emulated Kubernetes API server that ``make up`` starts) through that kubeconfig:
``demo-cluster`` (active) and ``gitops-fabric`` (planned, activated by the demo's Argo CD
Application once it completes); when the kubeconfig changed (the cluster was restarted), the
fabrics are given the new one. Saving new connection settings starts a connection test, which the RQ
worker runs.
"""

import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from users.models import Token

from netbox_hedgehog.choices import TriggerChoices
from netbox_hedgehog.credentials import CredentialsUnreadable, reveal
from netbox_hedgehog.jobs import request_git_test, request_sync, request_test_after_edit
from netbox_hedgehog.models import GitRepository, HedgehogFabric
from netbox_hedgehog.services.state import start_as, transition
from netbox_hedgehog.state import machine as m

# name -> (description, the transitions that bring it to its demo state: (field, to, trigger, reason))
DEMO_FABRICS = {
    "lab-planned": ("A fabric still being planned", []),
    "dc2-fabric": (
        "Active fabric whose cluster does not answer (nothing listens on 127.0.0.1:9): watch it retry",
        [(m.STATUS, m.ACTIVE, TriggerChoices.MANUAL, "Demo: deployment complete")],
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
            (m.STATUS, m.DECOMMISSIONED, TriggerChoices.MANUAL, "Demo: replaced by demo-cluster"),
        ],
    ),
}

# Real connection settings of example fabrics (saving them starts a connection test).
DEMO_SETTINGS = {"dc2-fabric": {"kubernetes_server": "https://127.0.0.1:9"}}
DEMO_TOKENS = {"dc2-fabric": "demo-token-for-a-cluster-that-is-not-there"}

CLUSTER_FABRIC = "demo-cluster"
CLUSTER_FABRIC_DESCRIPTION = "Connected to the in-memory demo cluster"
CLUSTER_FABRIC_COMMENTS = (
    "Its cluster is the emulated Kubernetes API server started by `make up` "
    "(`python -m hedgehog_kube_emulator`): an in-memory stand-in seeded with a small Hedgehog "
    "fabric. No real switches; its state is lost when it stops (`make down`)."
)
# A planned fabric on the same demo cluster, deployed by the demo's Argo CD Application
# argocd/gitops-fabric: the cluster completes that deployment about 90 s after NetBox first reads it (and
# leaf-03 catches up), and Argo CD's rule activates the fabric (docs/argocd.md).
GITOPS_FABRIC = "gitops-fabric"
GITOPS_FABRIC_DESCRIPTION = "Planned; Argo CD activates it once its deployment completes"
GITOPS_FABRIC_COMMENTS = (
    "Deployed by the Argo CD Application argocd/gitops-fabric of the demo cluster, which completes "
    "(Synced, Healthy, Succeeded) about 90 s after NetBox first read it, while leaf-03 applies its "
    "generation: watch the Argo CD and Switch readiness panels, then the history (trigger Argo CD)."
)
# name -> (description, comments, created as)
CLUSTER_FABRICS = {
    CLUSTER_FABRIC: (CLUSTER_FABRIC_DESCRIPTION, CLUSTER_FABRIC_COMMENTS, m.ACTIVE),
    GITOPS_FABRIC: (GITOPS_FABRIC_DESCRIPTION, GITOPS_FABRIC_COMMENTS, m.PLANNED),
}

# The git-managed demo fabric (docs/git.md): the same demo cluster, its desired state from a local
# repository that `make demo` creates under .dev/git/ (file://).
GIT_REPOSITORY = "demo-fabrics"
GIT_FABRIC = "demo-gitops"
GIT_PATH = "fabrics/demo-gitops"


class Command(BaseCommand):
    help = "Create the demo admin user, an API token and example fabrics (idempotent)."
    # NetBox's system checks (URLs, the GraphQL schema) take longer than everything this command
    # does; `make demo` has just started NetBox, which runs them.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default="admin")
        parser.add_argument(
            "--api-token-file", help="Write the admin's API authorization header value to this file"
        )
        parser.add_argument(
            "--cluster-kubeconfig",
            metavar="PATH",
            help=f"Create (or update) the fabrics {', '.join(CLUSTER_FABRICS)} with this kubeconfig as their credentials",
        )
        parser.add_argument(
            "--git-repository",
            metavar="URL",
            help=f"With --cluster-kubeconfig: the repository {GIT_REPOSITORY!r} (e.g. file:///.../demo-fabrics.git) "
            f"and the fabric {GIT_FABRIC!r} that takes its desired state from {GIT_PATH} in it",
        )
        parser.add_argument(
            "--cluster-only",
            action="store_true",
            help="With --cluster-kubeconfig: only update those fabrics that exist; create nothing",
        )

    def handle(
        self,
        *args,
        username,
        password,
        api_token_file,
        cluster_kubeconfig,
        cluster_only,
        git_repository=None,
        **options,
    ):
        kubeconfig = None
        if cluster_kubeconfig:
            try:
                kubeconfig = Path(cluster_kubeconfig).read_text()
            except OSError as exc:
                raise CommandError(
                    f"cannot read the kubeconfig {cluster_kubeconfig}: {exc.strerror}"
                ) from None
        elif cluster_only:
            raise CommandError("--cluster-only needs --cluster-kubeconfig")
        if cluster_only:
            for name in CLUSTER_FABRICS:
                self._cluster_fabric(kubeconfig, None, create=False, name=name)
            return
        user = self._admin(username, password)
        if api_token_file:
            self._token(user, Path(api_token_file))
        for name, (description, steps) in DEMO_FABRICS.items():
            if HedgehogFabric.objects.filter(name=name).exists():
                continue
            with transaction.atomic():
                fabric = HedgehogFabric(name=name, description=description, **DEMO_SETTINGS.get(name, {}))
                if name in DEMO_TOKENS:
                    fabric.set_secret("kubernetes_token", DEMO_TOKENS[name])
                fabric.save()
                request_test_after_edit(fabric, user=user)
                for field, to, trigger, reason in steps:
                    transition(fabric, field, to, trigger=trigger, reason=reason, user=user)
            self.stdout.write(
                f"created fabric {name}: {fabric.status}/{fabric.connection_status}/{fabric.sync_status}"
            )
        if kubeconfig is not None:
            for name in CLUSTER_FABRICS:
                self._cluster_fabric(kubeconfig, user, create=True, name=name)
            if git_repository:
                self._git_fabric(kubeconfig, git_repository, user)
            for name in CLUSTER_FABRICS:
                self._first_sync(user, name=name)
            if git_repository:
                self._first_sync(user, name=GIT_FABRIC)

    def _git_fabric(self, kubeconfig, url, user):
        """The demo repository and the fabric that takes its desired state from it (created once)."""
        with transaction.atomic():
            repository = GitRepository.objects.filter(name=GIT_REPOSITORY).first()
            if repository is None:
                repository = GitRepository(
                    name=GIT_REPOSITORY,
                    remote_url=url,
                    branch="main",
                    description="The demo fabric's manifests (a local repository made by make demo)",
                )
                try:
                    repository.full_clean()
                except ValidationError as exc:
                    raise CommandError(f"the demo repository is refused: {'; '.join(exc.messages)}") from None
                repository.save()
                request_git_test(repository, user=user, reason="Demo: repository created")
                self.stdout.write(f"created git repository {GIT_REPOSITORY}: {url}")
            if HedgehogFabric.objects.filter(name=GIT_FABRIC).exists():
                return
            fabric = HedgehogFabric(
                name=GIT_FABRIC,
                description="Desired state from git: the demo-fabrics repository, " + GIT_PATH,
                git_repository=repository,
                git_path=GIT_PATH,
            )
            fabric.set_secret("kubeconfig", kubeconfig)
            fabric.full_clean()
            fabric.save()
            start_as(fabric, m.ACTIVE, user=user, reason="Demo: deployed from git")
            request_test_after_edit(fabric, user=user)
        self.stdout.write(f"created fabric {GIT_FABRIC} (desired state from {GIT_REPOSITORY}:{GIT_PATH})")

    def _first_sync(self, user, wait=30, name=CLUSTER_FABRIC):
        """Once the worker connected a fabric of the demo cluster, sync it (if it never was), so its
        resources are there to browse (and the live watch follows it)."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            fabric = HedgehogFabric.objects.get(name=name)
            if fabric.last_sync is not None:
                return
            if fabric.connection_status == m.CONNECTED:
                job, _created = request_sync(fabric, user=user, reason="Demo: first sync")
                self.stdout.write(f"first sync of {name} queued as job #{job.pk}")
                return
            time.sleep(0.5)
        self.stdout.write(f"{name} is not connected yet: press Sync on its page once it is")

    def _cluster_fabric(self, kubeconfig, user, *, create, name=CLUSTER_FABRIC):
        """The fabric connected to the demo cluster: created, or given a changed kubeconfig.

        Either save changes the connection settings, so a connection test is asked for (queued on
        commit; the fabric is testing meanwhile); an unchanged kubeconfig changes nothing.
        """
        with transaction.atomic():
            description, comments, created_as = CLUSTER_FABRICS[name]
            fabric = HedgehogFabric.objects.select_for_update().filter(name=name).first()
            if fabric is None:
                if not create:
                    return
                fabric = HedgehogFabric(name=name, description=description, comments=comments)
                action = "created"
            else:
                try:
                    stored = reveal(fabric, "kubeconfig")
                except CredentialsUnreadable:
                    stored = None  # encrypted with a key since removed: give it the kubeconfig again
                if stored == kubeconfig and not (fabric.kubeconfig_context or fabric.kubernetes_server):
                    return
                action = "updated the kubeconfig of"
            fabric.set_secret("kubeconfig", kubeconfig)
            fabric.kubeconfig_context = ""
            fabric.kubernetes_server = ""
            fabric.set_secret("kubernetes_token", "")
            fabric.kubernetes_ca_cert = ""
            try:
                fabric.full_clean()
            except ValidationError as exc:
                raise CommandError(
                    f"the demo cluster's kubeconfig is refused: {'; '.join(exc.messages)}"
                ) from None
            fabric.save()
            if action == "created":
                start_as(fabric, created_as, user=user, reason="Demo: the demo cluster is running")
            request_test_after_edit(fabric, user=user)
        queued = (
            " (connection test queued for the RQ worker)" if fabric.connection_status == m.TESTING else ""
        )
        self.stdout.write(
            f"{action} fabric {name}: {fabric.status}/{fabric.connection_status}/{fabric.sync_status}{queued}"
        )

    def _admin(self, username, password):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_superuser(username=username, email="", password=password)
            self.stdout.write(f"created superuser {username}")
        return user

    def _token(self, user, path):
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
