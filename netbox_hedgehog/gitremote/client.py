"""Talking to a git remote (the same layer as kube/: no database beyond reading the repository).

`ls_remote(repository)` asks the remote for its refs over the real protocol (smart HTTP, SSH, or a
local path) and answers the branch's head commit; `read_tree(repository, path)` fetches the
branch's head into memory and returns the files under `path`. Every failure is a GitFailure with a
GitFailureCodeChoices code and a message that never quotes a credential.

HTTPS goes through urllib3 with certificate checks always on (the repository's CA when given, else
the system's) and no retries; SSH through the system's `ssh` with the repository's private key and
known host key (StrictHostKeyChecking=yes: an unknown key is a failure, never accepted).
"""

from __future__ import annotations

import os
import shlex
import socket
import ssl
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from dulwich.client import HTTPUnauthorized, get_transport_and_path
from dulwich.errors import GitProtocolError, HangupException, NotGitRepository
from dulwich.objects import Tree
from dulwich.repo import MemoryRepo

from .. import outbound, settings
from ..choices import GitFailureCodeChoices as G
from ..credentials import CredentialsUnreadable, reveal

SCHEMES = ("https", "ssh", "file")


@dataclass
class GitFailure(Exception):
    code: str
    message: str

    def __post_init__(self):
        super().__init__(self.message)

    def __str__(self):
        return f"[{self.code}] {self.message}"


def _timeouts():
    return settings.get("connect_timeout"), settings.get("request_timeout")


def _secrets(repository) -> list[str]:
    found = []
    for name in repository.SECRET_FIELDS:
        try:
            text = reveal(repository, name)
        except CredentialsUnreadable:
            continue
        if text:
            found += [text, *(line.strip() for line in text.splitlines() if len(line.strip()) >= 6)]
    return found


def redact(repository, message: str) -> str:
    for secret in sorted(_secrets(repository), key=len, reverse=True):
        message = message.replace(secret, "[redacted]")
    return message


@contextmanager
def _client(repository):
    """(dulwich client, path) for the repository, with its credentials; temporary files (an SSH key,
    known hosts) exist only while the context is open."""
    url = repository.remote_url
    scheme = urlsplit(url).scheme
    try:
        if scheme == "https":
            connect, read = _timeouts()
            pool = urllib3.PoolManager(
                cert_reqs="CERT_REQUIRED",
                ca_cert_data=repository.ca_cert or None,
                timeout=urllib3.Timeout(connect=connect, read=read),
                retries=False,
            )
            outbound.guard(pool)  # never the NetBox host's loopback or a metadata service
            username = repository.username or None
            password = reveal(repository, "password") or None
            client, path = get_transport_and_path(
                url, username=username, password=password, pool_manager=pool
            )
            yield client, path
        elif scheme == "ssh":
            # ssh opens its own connection: it is given the very address checked here (it would
            # resolve the name again), and looks the host key up under the name and port as given
            parts = urlsplit(url)
            host, port = parts.hostname or "", parts.port or 22
            address = outbound.pinned_address(host, port)
            alias = host if port == 22 else f"[{host}]:{port}"
            key = reveal(repository, "ssh_private_key")
            with tempfile.TemporaryDirectory(prefix="hedgehog-git-") as directory:
                options = [
                    "ssh",
                    "-o",
                    "BatchMode=yes",
                    "-o",
                    "StrictHostKeyChecking=yes",
                    "-o",
                    f"ConnectTimeout={int(_timeouts()[0])}",
                    "-o",
                    "IdentitiesOnly=yes",
                    "-o",
                    f"HostName={address}",
                    "-o",
                    f"HostKeyAlias={alias}",
                    "-o",
                    "CheckHostIP=no",
                ]
                known = os.path.join(directory, "known_hosts")
                with open(known, "w") as handle:
                    handle.write((repository.ssh_known_hosts or "").strip() + "\n")
                options += ["-o", f"UserKnownHostsFile={known}", "-o", "GlobalKnownHostsFile=/dev/null"]
                if key:
                    key_file = os.path.join(directory, "key")
                    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT, 0o600)
                    with os.fdopen(fd, "w") as handle:
                        handle.write(key.strip() + "\n")
                    options += ["-i", key_file]
                client, path = get_transport_and_path(url, ssh_command=shlex.join(options))
                yield client, path
        elif scheme == "file":
            if not settings.get("git_allow_file_urls"):  # a row stored before the setting was turned off
                raise GitFailure(
                    G.BAD_CONFIGURATION,
                    "file:// repositories are off on this NetBox (plugin setting git_allow_file_urls).",
                )
            client, path = get_transport_and_path(url)
            yield client, path
        else:
            raise GitFailure(
                G.BAD_CONFIGURATION, f"Unsupported URL scheme {scheme!r}: use https, ssh or file."
            )
    except CredentialsUnreadable as exc:
        raise GitFailure(G.BAD_CONFIGURATION, str(exc)) from None


def classify(exc: BaseException, repository) -> GitFailure:
    """The GitFailure for an exception raised while talking to the repository's remote."""
    if isinstance(exc, GitFailure):
        return exc
    where = repository.remote_url
    text = redact(repository, _first_line(exc))
    chain = _chain(exc)
    for item in chain:
        if isinstance(item, outbound.AddressBlocked):
            return GitFailure(G.BAD_CONFIGURATION, f"The git server {item}")
    if isinstance(exc, HTTPUnauthorized):
        return GitFailure(
            G.AUTH, f"{where} rejected the credentials (401). Check the username and the token."
        )
    if isinstance(exc, NotGitRepository):
        return GitFailure(
            G.NOT_FOUND, f"No git repository at {where} (or it is not visible with these credentials)."
        )
    for item in chain:
        if isinstance(item, (ssl.SSLError, urllib3.exceptions.SSLError)):
            return GitFailure(
                G.TLS,
                f"TLS with {where} failed: {redact(repository, _first_line(item))}. Give the server's CA.",
            )
    lowered = text.lower()
    if "host key verification failed" in lowered or "remote host identification has changed" in lowered:
        return GitFailure(
            G.HOST_KEY,
            f"The SSH host key of {where} is not the known one (host key verification failed). "
            "Give the server's key in known hosts (ssh-keyscan output checked by a person).",
        )
    if "permission denied" in lowered or "authentication failed" in lowered or "403" in lowered:
        return GitFailure(G.AUTH, f"{where} refused access: {text}")
    if "not found" in lowered or "does not appear to be a git repository" in lowered or "404" in lowered:
        return GitFailure(G.NOT_FOUND, f"No git repository at {where}: {text}")
    for item in chain:
        if isinstance(
            item,
            (
                socket.gaierror,
                ConnectionError,
                TimeoutError,
                urllib3.exceptions.NewConnectionError,
                urllib3.exceptions.MaxRetryError,
                urllib3.exceptions.TimeoutError,
                urllib3.exceptions.ProtocolError,
            ),
        ):
            return GitFailure(
                G.NETWORK, f"{where} cannot be reached: {redact(repository, _first_line(item))}"
            )
    if isinstance(exc, (HangupException, GitProtocolError)):
        if "connection refused" in lowered or "could not resolve" in lowered or "timed out" in lowered:
            return GitFailure(G.NETWORK, f"{where} cannot be reached: {text}")
        return GitFailure(G.NETWORK, f"The git server at {where} hung up or failed: {text}")
    return GitFailure(G.UNEXPECTED, f"Unexpected {type(exc).__name__} talking to {where}: {text}")


def _chain(exc):
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _first_line(exc) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    line = lines[0] if lines else type(exc).__name__
    if "object at 0x" in line and ":" in line:
        line = line.split(":", 1)[1].strip()
    return line[:300]


def _branch_ref(repository) -> bytes:
    return b"refs/heads/" + repository.branch.encode()


def ls_remote(repository) -> dict:
    """Ask the remote for its refs; the branch's head commit. Raises GitFailure (bad_ref when the
    branch is not there)."""
    try:
        with _client(repository) as (client, path):
            refs = client.get_refs(path).refs
    except Exception as exc:  # noqa: BLE001 - every failure is classified for the caller
        raise classify(exc, repository) from None
    head = refs.get(_branch_ref(repository))
    if head is None:
        branches = sorted(r[len(b"refs/heads/") :].decode() for r in refs if r.startswith(b"refs/heads/"))
        raise GitFailure(
            G.BAD_REF,
            f"{repository.remote_url} has no branch {repository.branch!r}"
            + (f" (it has: {', '.join(branches[:10])})." if branches else " (it has no branches)."),
        )
    return {"commit": head.decode(), "branches": len([r for r in refs if r.startswith(b"refs/heads/")])}


def read_tree(repository, path: str = "") -> tuple[str, dict[str, bytes]]:
    """Fetch the branch's head into memory; (commit, {file path: content}) of the files under `path`
    (the whole tree when empty). Raises GitFailure."""
    wanted = _branch_ref(repository)
    target = MemoryRepo()
    found = {}

    def determine_wants(refs, depth=None):
        if wanted not in refs:
            raise GitFailure(G.BAD_REF, f"{repository.remote_url} has no branch {repository.branch!r}.")
        found["commit"] = refs[wanted]
        return [refs[wanted]]

    try:
        with _client(repository) as (client, remote_path):
            client.fetch(remote_path, target, determine_wants=determine_wants, depth=1)
    except GitFailure:
        raise
    except Exception as exc:  # noqa: BLE001 - classified
        if isinstance(exc.__context__, GitFailure):
            raise exc.__context__ from None
        raise classify(exc, repository) from None
    commit = found["commit"]
    tree = target[target[commit].tree]
    prefix = [part for part in path.strip("/").split("/") if part]
    for part in prefix:
        try:
            _mode, sha = tree[part.encode()]
        except KeyError:
            raise GitFailure(
                G.NOT_FOUND, f"{repository.remote_url} has no directory {path!r} at {commit.decode()[:12]}."
            ) from None
        tree = target[sha]
        if not isinstance(tree, Tree):
            raise GitFailure(G.NOT_FOUND, f"{path!r} in {repository.remote_url} is a file, not a directory.")
    files = {}
    base = "/".join(prefix)
    for entry in target.object_store.iter_tree_contents(tree.id):
        name = entry.path.decode()
        files[f"{base}/{name}" if base else name] = target[entry.sha].data
    return commit.decode(), files
