"""The OpenAPI schema documents what the plugin's endpoints really answer: the custom actions'
request bodies and every status they give (with its body), and nullable fields as nullable."""

import pytest
from drf_spectacular.generators import SchemaGenerator

ACTIONS = {
    # path suffix -> (method, the statuses it answers, whether it takes a body)
    "transition/": ("post", {"200", "400", "403", "404", "409", "415", "503"}, True),
    "test-connection/": ("post", {"202", "403", "404", "409", "503"}, False),
    "sync/": ("post", {"202", "403", "404", "409", "503"}, False),
    "reconcile/": ("post", {"200", "202", "400", "403", "404", "409", "415", "502", "503"}, True),
}


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


@pytest.mark.parametrize("suffix", sorted(ACTIONS))
def test_each_custom_action_documents_every_answer_with_its_body(schema, suffix):
    method, statuses, takes_body = ACTIONS[suffix]
    (operation,) = [
        ops[method]
        for path, ops in schema["paths"].items()
        if path.startswith("/api/plugins/hedgehog/fabrics/{id}/") and path.endswith(suffix)
    ]
    assert set(operation["responses"]) == statuses
    for code, response in operation["responses"].items():
        assert "content" in response, f"{suffix} {code} documents no body"
    assert ("requestBody" in operation) == takes_body


def test_a_state_transition_user_is_nullable(schema):
    user = schema["components"]["schemas"]["StateTransition"]["properties"]["user"]
    assert user.get("nullable") is True or any(s.get("nullable") for s in user.get("allOf", []))
