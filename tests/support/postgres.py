"""A PostgreSQL cluster of a test session's own, which its tests may stop and start (tests/chaos/).

The suite's shared PostgreSQL must never stop under the other tests, so the chaos tests run in a
session of their own (`make chaos`) whose database lives in a second cluster: `initdb` in a new
directory under /var/tmp (the postgres user must reach it), started on a free port, and the shared
test database copied into it (`pg_dump | pg_restore`, about a second: NetBox's and the plugin's
migrations already applied). Run as the postgres user when the tests run as root (as `make setup`
starts the shared cluster), else as the current user.
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def pg_bin() -> Path:
    """The newest PostgreSQL's programs (Debian puts each major version in its own directory)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError(
            "PostgreSQL's initdb was not found under /usr/lib/postgresql (make setup installs it)"
        )
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivatePostgres:
    """initdb(), start(), stop(), start() again..., destroy(). Superuser `postgres` (trust, socket
    only); `role` (a login with CREATEDB, as the shared cluster has) is created by initdb()."""

    def __init__(self, role="netbox", password="netbox"):
        self.bin = pg_bin()
        self.port = free_port()
        self.role, self.password = role, password
        self.as_postgres = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="hedgehog-chaos-pg-", dir="/var/tmp"))
        self.data, self.sock, self.log = self.dir / "data", self.dir / "sock", self.dir / "postgres.log"

    def _run(self, *args, **kwargs):
        command = ["runuser", "-u", "postgres", "--", *args] if self.as_postgres else list(args)
        return subprocess.run(command, check=True, capture_output=True, **kwargs)

    def initdb(self):
        self.sock.mkdir()
        if self.as_postgres:
            self.dir.chmod(0o755)
            shutil.chown(self.dir, "postgres")
            shutil.chown(self.sock, "postgres")
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "-N",
        )
        self.start()
        self.psql(f"CREATE ROLE {self.role} LOGIN PASSWORD '{self.password}' CREATEDB")
        return self

    def start(self):
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.sock} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-o", options, "start"
        )

    def stop(self, mode="immediate"):
        """Stop the server: `immediate` is a crash (every session cut, recovery at the next start)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    @property
    def running(self) -> bool:
        status = subprocess.run(
            (["runuser", "-u", "postgres", "--"] if self.as_postgres else [])
            + [str(self.bin / "pg_ctl"), "-D", str(self.data), "status"],
            capture_output=True,
        )
        return status.returncode == 0

    def psql(self, sql, database="postgres"):
        return self._run(
            str(self.bin / "psql"),
            "-h",
            str(self.sock),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-qtA",
            "-c",
            sql,
            text=True,
        ).stdout.strip()

    def copy_database(self, name, *, host, port, user, password, into=None):
        """Copy the database `name` of another server (read with pg_dump, which disturbs nobody) into
        a new database of this one owned by `role`."""
        into = into or name
        self.psql(f'CREATE DATABASE "{into}" OWNER {self.role}')
        dump = subprocess.run(
            [str(self.bin / "pg_dump"), "-Fc", "-h", host, "-p", str(port), "-U", user, name],
            check=True,
            capture_output=True,
            env={**os.environ, "PGPASSWORD": password},
        ).stdout
        self._run(
            str(self.bin / "pg_restore"),
            "-h",
            str(self.sock),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "--no-owner",
            f"--role={self.role}",
            "-d",
            into,
            input=dump,
        )

    def destroy(self):
        if self.data.exists() and self.running:
            self.stop("fast")
        shutil.rmtree(self.dir, ignore_errors=True)
