"""NetBox's core database as recorded in the repository (scripts/netbox-core/), and its fingerprint.

NetBox's own ~340 migrations take 5 to 15 minutes of CPU on a fresh database (Django re-renders the
migration state's models after every field operation). Their result, the database of NetBox's core
apps with no plugin, is recorded in the repository once per NetBox version (`scripts/dev.sh
netbox-core record`, which runs those migrations and dumps the database with pg_dump) and restored
by `make setup` in seconds. The recording is the real migrations' output, not a rebuild from the
models: a schema built from the current models (Django's syncdb) differs from the migrated one in
column order, historical constraint, index and sequence names, column types, the triggers and
functions the migrations install, and the rows they insert (see bench/setup-times.md).

`scripts/dev.sh netbox-core verify` runs the migrations again and compares the two databases by
fingerprint: the text of `pg_dump` (schema and data) with what differs between two runs of the same
migrations taken out, and nothing else:

- the lines pg_dump adds that are not the database (`\\restrict` and its random key, the versions of
  the server and of pg_dump);
- the order of pg_dump's entries (tables whose foreign keys form a cycle come in an order of their
  internal ids) and of the rows in a table's data;
- the moments in the data (when each migration was applied, when a row a migration inserted was
  created).

Column order, every name, every type, default, constraint, index, function, trigger, collation and
extension, every row and every sequence's value stay in the fingerprint.

Command line (the standard library only: dev.sh runs it with the venv's Python):
    python scripts/netbox_core.py clean < pg_dump.sql > recorded.sql   # what is recorded
    python scripts/netbox_core.py compare A.sql B.sql                   # exit 1 and a diff when they differ
"""

import difflib
import re
import sys

# pg_dump (15.14 and later) brackets a plain dump with \restrict KEY ... \unrestrict KEY, the key
# new at every run.
NOT_THE_DATABASE = re.compile(r"^(\\restrict |\\unrestrict |-- Dumped (from database|by pg_dump) version )")
# Every entry of a plain pg_dump starts with a comment block naming it:
#   --
#   -- Name: dcim_site; Type: TABLE; Schema: public; Owner: -
#   --
ENTRY = re.compile(r"^-- (Data for )?Name: ")
# timestamptz values as COPY writes them (the session's time zone is UTC in these dumps)
MOMENT = re.compile(r"\b\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?\+00\b")


def clean(dump: str) -> str:
    """The dump without the lines that are not the database (what the repository records)."""
    return "".join(line for line in dump.splitlines(keepends=True) if not NOT_THE_DATABASE.match(line))


def entries(dump: str) -> list[list[str]]:
    """The dump's entries, each a list of lines, the first its name comment; the lines before the
    first entry (pg_dump's SET statements) are an entry too."""
    found: list[list[str]] = [[]]
    for line in clean(dump).splitlines():
        if ENTRY.match(line):
            # the "--" line that opens the comment block belongs to the new entry
            if found[-1] and found[-1][-1] == "--":
                found[-1].pop()
            found.append([line])
        else:
            found[-1].append(line)
    return found


def normalise_entry(lines: list[str]) -> str:
    """One entry as text: the rows of its COPY block sorted and their moments masked."""
    out: list[str] = []
    rows: list[str] | None = None
    for line in lines:
        if rows is not None:
            if line == "\\.":
                out.extend(sorted(rows))
                out.append(line)
                rows = None
            else:
                rows.append(MOMENT.sub("<moment>", line))
        elif line.startswith("COPY ") and line.endswith("FROM stdin;"):
            out.append(line)
            rows = []
        elif line.strip() and line != "--":
            out.append(line)
    if rows is not None:
        raise ValueError(f"unterminated COPY block in entry {lines[0]!r}")
    return "\n".join(out)


def fingerprint(dump: str) -> str:
    """The normalised text of a plain pg_dump: equal for two databases that hold the same schema and
    the same data, whatever order pg_dump wrote them in and whenever they were migrated."""
    return "\n\n".join(sorted(normalise_entry(entry) for entry in entries(dump) if entry)) + "\n"


def differences(a: str, b: str, a_name: str = "a", b_name: str = "b", limit: int = 200) -> list[str]:
    """The unified diff of two dumps' fingerprints (at most `limit` lines); empty when they are equal."""
    diff = difflib.unified_diff(
        fingerprint(a).splitlines(), fingerprint(b).splitlines(), a_name, b_name, lineterm="", n=1
    )
    return [line for _, line in zip(range(limit), diff, strict=False)]


def main(argv: list[str]) -> int:
    if argv[:1] == ["clean"] and len(argv) == 1:
        sys.stdout.write(clean(sys.stdin.read()))
        return 0
    if argv[:1] == ["compare"] and len(argv) == 3:
        with open(argv[1]) as a, open(argv[2]) as b:
            diff = differences(a.read(), b.read(), argv[1], argv[2])
        if diff:
            print("\n".join(diff))
            return 1
        return 0
    print(__doc__.rsplit("Command line", 1)[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
