"""The pure core: the rules of every state the plugin keeps, as plain data and plain functions.

No Django, no ORM, no NetBox, no kubernetes client (an import-linter contract proves it), so each
module reads in one sitting and is tested exhaustively:

* `machine`   the fabric's three state dimensions: transition tables, impossible combinations,
              cross-field effects, guards, the required action of every combination;
* `kinds`     the Hedgehog kinds NetBox keeps and the order they are created in;
* `diff`      the field-level difference between a desired and an actual spec;
* `resources` one resource's sync state from its desired and actual state, and the roll-up of a
              fabric's resources into its sync status.

The code that applies these rules to the database is in `netbox_hedgehog.services`.
"""
