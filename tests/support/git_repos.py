"""Git repositories for the tests: made as the forms and the REST API make them, and the manifests
the test repository holds (the demo fabric's, in one directory per fabric)."""

from netbox_hedgehog.jobs import GitConnectionTestJob
from netbox_hedgehog.models import GitRepository
from tests.support.git_server import PASSWORD, USER

VPC_MANIFEST = """\
apiVersion: vpc.githedgehog.com/v1beta1
kind: VPC
metadata:
  name: vpc-1
spec:
  ipv4Namespace: default
  vlanNamespace: default
  subnets:
    default:
      subnet: 10.0.1.0/24
      vlan: 1001
"""
IPNS_MANIFEST = """\
apiVersion: vpc.githedgehog.com/v1beta1
kind: IPv4Namespace
metadata:
  name: default
spec:
  subnets:
  - 10.0.0.0/16
"""
DEMO_FILES = {
    "fabrics/dc1/vpcs.yaml": VPC_MANIFEST,
    "fabrics/dc1/namespaces.yaml": IPNS_MANIFEST,
    "fabrics/dc2/vpcs.yaml": VPC_MANIFEST.replace("vpc-1", "vpc-2"),
    "README.md": "not a manifest\n",
}


def make_repository(name="fabrics", *, url, user=USER, password=PASSWORD, ca="", branch="main", **fields):
    """A repository saved as the forms and the REST API save one (validated, secret encrypted)."""
    repository = GitRepository(
        name=name, remote_url=url, branch=branch, username=user if password else "", ca_cert=ca, **fields
    )
    if password:
        repository.set_secret("password", password)
    repository.full_clean()
    repository.save()
    return repository


def served_repository(server, name="fabrics", *, repo="fabrics", **kwargs):
    """A repository on the test server, with its CA and the right credentials unless told otherwise."""
    kwargs.setdefault("ca", server.ca_pem)
    return make_repository(name, url=server.url(repo), **kwargs)


def run_git_test(repository):
    """Run a repository's connection test in-process (a real JobRunner run); both refreshed."""
    job = GitConnectionTestJob.enqueue(instance=repository, immediate=True)
    job.refresh_from_db()
    repository.refresh_from_db()
    return job
