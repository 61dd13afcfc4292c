"""NetBox's core database recorded in the repository (scripts/netbox-core/), from which `make setup`
builds every database instead of running NetBox's ~340 migrations, is the installed NetBox's, and
its fingerprint (scripts/netbox_core.py, what `scripts/dev.sh netbox-core verify` compares with a
database migrated afresh) sees every difference in the schema and the data but none of what differs
between two runs of the same migrations.

That the recording equals the migrations' result is proven by `scripts/dev.sh netbox-core verify`
(minutes of migrations; run after recording, see scripts/netbox-core/README.md), not here.
"""

import gzip
import importlib.util
import random
import re
from importlib.metadata import version
from pathlib import Path

import pytest
from django.db.migrations.loader import MigrationLoader

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("netbox_core", ROOT / "scripts" / "netbox_core.py")
netbox_core = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(netbox_core)

NETBOX_VERSION = re.search(r"^NETBOX_VERSION=(\S+)$", (ROOT / "scripts/dev.sh").read_text(), re.M).group(1)
RECORDED = ROOT / "scripts" / "netbox-core" / f"netbox-{NETBOX_VERSION}.sql.gz"


@pytest.fixture(scope="module")
def recorded() -> str:
    return gzip.decompress(RECORDED.read_bytes()).decode()


def copy_rows(dump: str, table: str) -> list[str]:
    block = re.search(rf"^COPY public\.{table} \(.*?\) FROM stdin;\n(.*?)^\\\.$", dump, re.M | re.S)
    return block.group(1).splitlines()


def test_the_recording_is_of_the_netbox_version_setup_installs():
    assert version("netbox") == NETBOX_VERSION
    assert RECORDED.is_file(), "record it: scripts/dev.sh netbox-core record"


def test_the_recording_has_every_migration_of_the_installed_netbox_applied_and_no_other(recorded):
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    installed = {key for key in graph.nodes if key[0] != "netbox_hedgehog"}
    # Django records a squashed migration and every migration it replaces
    expected = installed | {replaced for key in installed for replaced in graph.nodes[key].replaces or ()}
    rows = copy_rows(recorded, "django_migrations")
    applied = {tuple(row.split("\t")[1:3]) for row in rows}
    assert len(rows) == len(applied)
    assert applied == expected, (sorted(expected - applied)[:10], sorted(applied - expected)[:10])


def test_the_recording_holds_no_line_that_is_not_the_database(recorded):
    assert netbox_core.clean(recorded) == recorded
    assert "\\restrict" not in recorded


def test_the_fingerprint_ignores_the_order_of_entries_and_rows_and_the_moments_of_the_data(recorded):
    parts = netbox_core.entries(recorded)
    head, body = parts[0], parts[1:]
    random.Random(1).shuffle(body)
    reordered = []
    for entry in [head, *body]:
        lines = list(entry)
        if lines[0].startswith("-- Data for Name: ") and any(line.startswith("COPY ") for line in lines):
            start = next(i for i, line in enumerate(lines) if line.startswith("COPY ")) + 1
            end = lines.index("\\.")
            lines[start:end] = reversed(lines[start:end])
        reordered.append("--\n" + "\n".join(lines))
    moved = re.sub(
        r"2\d{3}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\+00", "2031-01-02 03:04:05.678+00", "\n".join(reordered)
    )
    rerun = "\\restrict abc\n-- Dumped by pg_dump version 15.99\n" + moved + "\n\\unrestrict abc\n"
    assert moved != recorded
    assert netbox_core.differences(recorded, rerun) == []


@pytest.mark.parametrize(
    ("what", "pattern", "replacement"),
    [
        # what the Django models alone would build differently (measured: bench/setup-times.md)
        (
            "the order of a table's columns",
            r"(    id bigint NOT NULL,\n)(    created timestamp with time zone,\n)",
            r"\2\1",
        ),
        (
            "a historical index name",
            r"core_objectchange_changed_object_type_id_cha_79a9ed1e",
            "core_object_changed_c227ce_idx",
        ),
        ("a column's type", r"(CREATE TABLE public\.auth_group_permissions \(\n    id )bigint", r"\1integer"),
        ("a trigger", r"CREATE TRIGGER dcim_region_ltree_compute_path[^;]*;\n", ""),
        ("a row a migration inserted", r"^[0-9]+\t[^\n]*\tFan\t[^\n]*\n", ""),
        ("a sequence's value", r"(setval\('public\.django_content_type_id_seq', )\d+", r"\g<1>999"),
        ("a content type's id", r"^(\d+)(\tdcim\tsite)$", r"9\1\2"),
    ],
)
def test_the_fingerprint_sees(recorded, what, pattern, replacement):
    changed, count = re.subn(pattern, replacement, recorded, count=1, flags=re.M)
    assert count == 1, f"the recording has no {what} to change"
    assert netbox_core.differences(recorded, changed), what
