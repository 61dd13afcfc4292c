"""The state machine as plain data: the tables are the specification's, the space is explored whole."""

from collections import deque

import pytest

from netbox_hedgehog.state import machine as m

SPEC_TABLES = {
    # copied by hand from the specification, one arrow per line
    m.STATUS: {
        ("planned", "active"),
        ("active", "maintenance"),
        ("maintenance", "active"),
        ("active", "decommissioned"),
        ("maintenance", "decommissioned"),
    },
    m.CONNECTION: {
        ("unknown", "testing"),
        ("testing", "connected"),
        ("testing", "failed"),
        ("connected", "testing"),
        ("failed", "testing"),
        ("connected", "failed"),
    },
    m.SYNC: {
        ("never_synced", "syncing"),
        ("syncing", "in_sync"),
        ("syncing", "error"),
        ("in_sync", "syncing"),
        ("in_sync", "out_of_sync"),
        ("out_of_sync", "syncing"),
        ("error", "syncing"),
    },
}


@pytest.mark.parametrize("field", m.FIELDS)
def test_tables_are_exactly_the_specification(field):
    edges = {(src, dst) for src, dsts in m.TRANSITIONS[field].items() for dst in dsts}
    assert edges == SPEC_TABLES[field]
    assert set(m.TRANSITIONS[field]) == set(m.VALUES[field])


def test_no_operation_outside_the_table_is_planned():
    for field in m.FIELDS:
        for current in m.VALUES[field]:
            state = m.State(**{field: current})
            for to in m.VALUES[field]:
                if to in m.TRANSITIONS[field][current]:
                    continue
                with pytest.raises(m.Refused) as refused:
                    m.plan(state, field, to, "x")
                assert refused.value.code == "not_in_table"
                assert refused.value.allowed == m.TRANSITIONS[field][current]


def explore():
    """BFS over every requested transition of every field from the initial state."""
    start = m.State()
    seen = {start}
    queue = deque([start])
    accepted = refused = 0
    while queue:
        state = queue.popleft()
        for field in m.FIELDS:
            for to in m.VALUES[field]:
                try:
                    steps = m.plan(state, field, to, "reason")
                except m.Refused:
                    refused += 1
                    continue
                accepted += 1
                after = state
                for step in steps:
                    after = m.apply_step(after, step)
                yield state, field, to, steps, after
                if after not in seen:
                    seen.add(after)
                    queue.append(after)


def test_every_reachable_state_is_consistent():
    for before, field, to, steps, after in explore():
        assert m.problems(after) == [], (before, field, to)
        # each step is itself in its field's table
        for step in steps:
            assert step.new in m.TRANSITIONS[step.field][step.previous]
        # the first step is the requested one, the rest are effects on other fields
        assert (steps[0].field, steps[0].new, steps[0].is_effect) == (field, to, False)
        assert all(s.is_effect and s.field != field for s in steps[1:])


def test_the_reachable_triples_are_exactly_the_consistent_ones_that_can_be_reached():
    reachable = {after.triple for *_, after in explore()} | {m.State().triple}
    # every reachable triple is consistent...
    assert all(m.triple_is_consistent(*t) for t in reachable)
    # ...and the spec's two impossible examples are not reachable
    assert ("active", "failed", "in_sync") not in reachable
    assert ("decommissioned", "connected", "syncing") not in reachable


def test_connection_failure_takes_sync_out_of_in_sync():
    state = m.State("active", "connected", "in_sync", has_last_validated=True, has_last_sync=True)
    steps = m.plan(state, m.CONNECTION, m.FAILED, "refused")
    assert [(s.field, s.previous, s.new, s.is_effect) for s in steps] == [
        (m.CONNECTION, "connected", "failed", False),
        (m.SYNC, "in_sync", "out_of_sync", True),
    ]


def test_connection_failure_aborts_a_running_sync():
    state = m.State("active", "connected", "syncing", has_last_validated=True)
    steps = m.plan(state, m.CONNECTION, m.FAILED, "refused")
    assert steps[1].new == m.ERROR and steps[1].reason


def test_decommission_takes_sync_out_of_in_sync():
    state = m.State("active", "connected", "in_sync", has_last_validated=True, has_last_sync=True)
    steps = m.plan(state, m.STATUS, m.DECOMMISSIONED)
    assert [(s.field, s.new) for s in steps] == [(m.STATUS, "decommissioned"), (m.SYNC, "out_of_sync")]


@pytest.mark.parametrize(
    "state,code",
    [
        (m.State("active", "unknown", "never_synced"), "not_connected"),
        (m.State("planned", "testing", "never_synced"), "not_connected"),  # a first test
        (  # a retry after a failure: the last outcome was the failure
            m.State(
                "active",
                "testing",
                "error",
                has_connection_error=True,
                has_last_validated=True,
                has_sync_error=True,
            ),
            "not_connected",
        ),
        (
            m.State("active", "failed", "error", has_connection_error=True, has_sync_error=True),
            "not_connected",
        ),
        (
            m.State("maintenance", "connected", "error", has_last_validated=True, has_sync_error=True),
            "in_maintenance",
        ),
        (
            m.State(
                "decommissioned", "connected", "out_of_sync", has_last_validated=True, has_last_sync=True
            ),
            "decommissioned",
        ),
    ],
)
def test_a_sync_needs_a_connected_fabric_outside_maintenance(state, code):
    with pytest.raises(m.Refused) as refused:
        m.plan(state, m.SYNC, m.SYNCING)
    assert refused.value.code == code
    assert refused.value.message


@pytest.mark.parametrize("sync", ["never_synced", "in_sync", "out_of_sync", "error"])
def test_a_sync_may_start_while_a_connected_fabric_is_retested(sync):
    """A health round moves every connected fabric to testing for the length of its check: a sync
    asked for meanwhile is not refused (the last outcome was connected), and the running sync
    meets the round's outcome as a sync running before the round would."""
    state = m.State(
        "active",
        "testing",
        sync,
        has_last_validated=True,
        has_sync_error=sync == "error",
        has_last_sync=sync != "never_synced",
    )
    steps = m.plan(state, m.SYNC, m.SYNCING)
    assert [(step.field, step.new) for step in steps] == [(m.SYNC, m.SYNCING)]
    after = m.apply_step(state, steps[0])
    # the retest's two outcomes, from there, are the table's with their effects
    assert m.plan(after, m.CONNECTION, m.CONNECTED)[0].new == m.CONNECTED
    failed = m.plan(after, m.CONNECTION, m.FAILED, "refused")
    assert [(step.field, step.new) for step in failed] == [(m.CONNECTION, m.FAILED), (m.SYNC, m.ERROR)]


def test_a_decommissioned_fabric_is_not_tested_again():
    state = m.State("decommissioned", "failed", "error", has_connection_error=True, has_sync_error=True)
    with pytest.raises(m.Refused) as refused:
        m.plan(state, m.CONNECTION, m.TESTING)
    assert refused.value.code == "decommissioned"


def test_decommissioned_is_final():
    assert m.allowed_transitions(m.STATUS, "decommissioned") == ()


@pytest.mark.parametrize("field,value", [("status", "bogus"), ("nope", "active")])
def test_unknown_values_are_value_errors(field, value):
    with pytest.raises(ValueError):
        m.plan(m.State(), field, value)


# --- the required action ------------------------------------------------------------------------

SPEC_ROWS = [
    # (status, connection, sync or "*") -> label, as written in the specification
    (("planned", "unknown", "never_synced"), "Test connection when ready"),
    (("planned", "connected", "never_synced"), "Ready for initial sync"),
    (("active", "connected", "in_sync"), "Normal operation"),
    (("active", "connected", "out_of_sync"), "Trigger reconciliation"),
    (("active", "failed", "*"), "Alert: Connection issue"),
    (("maintenance", "*", "*"), "Suspend operations"),
    (("decommissioned", "*", "*"), "Cleanup resources"),
]


def test_required_action_answers_all_80_combinations():
    triples = list(m.all_triples())
    assert len(triples) == 80
    for triple in triples:
        assert m.required_action(*triple) in m.ACTION_LABELS


@pytest.mark.parametrize("pattern,label", SPEC_ROWS)
def test_required_action_matches_the_specification_rows(pattern, label):
    matched = 0
    for triple in m.all_triples():
        if not all(p in ("*", v) for p, v in zip(pattern, triple, strict=True)):
            continue
        matched += 1
        action = m.required_action(*triple)
        if m.triple_is_consistent(*triple):
            assert m.ACTION_LABELS[action] == label, triple
        else:
            assert action == m.FORCE_VALIDATION, triple
    assert matched


@pytest.mark.parametrize(
    "triple",
    [
        ("active", "failed", "in_sync"),
        ("decommissioned", "connected", "syncing"),
        ("planned", "unknown", "in_sync"),
    ],
)
def test_inconsistent_combinations_ask_for_force_validation(triple):
    assert m.required_action(*triple) == m.FORCE_VALIDATION


def test_triples_requiring_inverts_required_action():
    total = sum(len(m.triples_requiring(a)) for a in m.ACTION_LABELS)
    assert total == 80


def test_persisted_fields_must_agree_with_the_state():
    codes = {code for code, _ in m.problems(m.State("active", "failed", "error"))}
    assert codes == {"failed_without_error", "sync_error_without_message"}
    codes = {code for code, _ in m.problems(m.State("active", "connected", "in_sync"))}
    assert codes == {"connected_without_validation", "in_sync_without_last_sync"}
