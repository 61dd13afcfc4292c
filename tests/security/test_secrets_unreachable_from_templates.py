"""No template reaches a stored secret: NetBox renders export templates and custom links in Jinja2's
sandbox, which calls any method not marked as altering data, and puts every model class in the
context. An export template `{{ f.get_secret("kubernetes_token") }}` once returned every token in
clear to a user who may only view fabrics. Every attribute path a template might take to a
credential gets neither the secret nor its ciphertext."""

import pytest
from core.models import ObjectType
from django.urls import reverse
from extras.models import CustomLink, ExportTemplate
from utilities.testing import APITestCase, TestCase

from netbox_hedgehog import credentials
from netbox_hedgehog.models import HedgehogFabric

pytestmark = pytest.mark.django_db

TOKEN = "pl41n-T0ken-never-in-a-template"
KUBECONFIG_TOKEN = "kc-T0ken-never-in-a-template"
KUBECONFIG = f"""
apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:6443"}}}}]
users: [{{name: u, user: {{token: {KUBECONFIG_TOKEN}}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
"""

# Each expression is rendered in a template of its own (one refused by the sandbox must not hide
# the others); `f` is a fabric with a token, `g` one with a kubeconfig.
PATHS = [
    "f.kubernetes_token",
    "g.kubeconfig",
    "f.kubernetes_token|string",
    "f.kubernetes_token._ciphertext",
    "f.kubernetes_token|attr('_ciphertext')",
    "f.kubernetes_token.__reduce__()",
    "f.kubernetes_token.__class__",
    "f.get_secret('kubernetes_token')",
    "g.get_secret('kubeconfig')",
    "f.set_secret('kubernetes_token', 'x')",
    "f.reveal('kubernetes_token')",
    "f.__dict__",
    "f._meta",
    "f.serialize_object()",
    "f.serialize_object()['kubernetes_token']",
    "g.snapshot()",
    "g.to_objectchange('update').postchange_data",
    "f.SECRET_FIELDS",
    "f.__class__.kubernetes_token.field.value_to_string(f)",
    "netbox_hedgehog.HedgehogFabric.objects.values_list('kubernetes_token', 'kubeconfig')|list",
    "netbox_hedgehog.HedgehogFabric.objects.values()|list",
    "netbox_hedgehog.HedgehogFabric.objects.all()|map(attribute='kubernetes_token')|list",
    "netbox_hedgehog.HedgehogFabric.set_secret",
    "f.jobs.all()|list",
    "f.state_transitions.all()|list",
    "f.cluster_info",
]


@pytest.fixture
def fabrics():
    f = HedgehogFabric(name="tok", kubernetes_server="https://127.0.0.1:6443")
    f.set_secret("kubernetes_token", TOKEN)
    f.full_clean()
    f.save()
    g = HedgehogFabric(name="kc")
    g.set_secret("kubeconfig", KUBECONFIG)
    g.full_clean()
    g.save()
    return HedgehogFabric.objects.get(pk=f.pk), HedgehogFabric.objects.get(pk=g.pk)


def forbidden(*fabrics):
    """What must never appear: the secrets, and any piece of their ciphertext."""
    out = [TOKEN, KUBECONFIG_TOKEN]
    for fabric in fabrics:
        for name in HedgehogFabric.SECRET_FIELDS:
            stored = credentials.ciphertext(getattr(fabric, name))
            if stored:
                out.append(stored[len("fernet:") :][:24])
    return out


def render_export(code, *fabrics) -> str:
    template = ExportTemplate(name="probe", template_code=code)
    queryset = HedgehogFabric.objects.filter(pk__in=[f.pk for f in fabrics]).order_by("name")
    response = template.render_to_response(queryset=queryset)
    return b"".join(response).decode() if hasattr(response, "__iter__") else response.content.decode()


def outcome(render):
    """What a template gave: its text, or the refusal it raised (a sandbox or undefined error)."""
    try:
        return render()
    except Exception as exc:  # noqa: BLE001 - a refusal is an outcome here
        return f"refused: {type(exc).__name__}: {exc}"


@pytest.mark.parametrize("path", PATHS)
def test_an_export_template_gets_no_secret_by_any_path(fabrics, path):
    f, g = fabrics
    code = "{% set f = queryset|selectattr('name', 'eq', 'tok')|first %}"
    code += "{% set g = queryset|selectattr('name', 'eq', 'kc')|first %}{{ " + path + " }}"
    text = outcome(lambda: render_export(code, f, g))
    for secret in forbidden(f, g):
        assert secret not in text, f"{path} gave {text[:200]}"


@pytest.mark.parametrize("path", PATHS)
def test_a_custom_link_gets_no_secret_by_any_path(fabrics, path):
    f, g = fabrics
    link = CustomLink(
        name="probe", link_text="{{ " + path + " }}", link_url="https://x.example/?q={{ " + path + " }}"
    )
    context = {"object": f, "f": f, "g": g, "netbox_hedgehog": {"HedgehogFabric": HedgehogFabric}}
    text = str(outcome(lambda: link.render(context)))
    for secret in forbidden(f, g):
        assert secret not in text, f"{path} gave {text[:200]}"


def test_the_stored_secret_still_reaches_the_client_code(fabrics):
    f, g = fabrics
    assert credentials.reveal(f, "kubernetes_token") == TOKEN
    assert KUBECONFIG_TOKEN in credentials.reveal(g, "kubeconfig")


SNOOP = (
    "{% for f in queryset %}{{ f.name }}:{{ f.kubernetes_token }}{{ f.kubeconfig }}"
    "{{ f.serialize_object() }}{% endfor %}"
)


def make_export_template():
    template = ExportTemplate.objects.create(name="snoop", template_code=SNOOP)
    template.object_types.set([ObjectType.objects.get_for_model(HedgehogFabric)])
    return template


class ExportOverHttpTest(TestCase):
    """A user who may only view fabrics and export templates runs the export on the UI."""

    user_permissions = ("netbox_hedgehog.view_hedgehogfabric", "extras.view_exporttemplate")

    def test_the_ui_export_holds_no_secret(self):
        f = HedgehogFabric(name="tok", kubernetes_server="https://127.0.0.1:6443")
        f.set_secret("kubernetes_token", TOKEN)
        f.save()
        make_export_template()
        response = self.client.get(reverse("plugins:netbox_hedgehog:hedgehogfabric_list") + "?export=snoop")
        self.assertHttpStatus(response, 200)
        text = b"".join(response).decode() if response.streaming else response.content.decode()
        self.assertIn("tok:", text)
        for secret in forbidden(HedgehogFabric.objects.get(pk=f.pk)):
            self.assertNotIn(secret, text)


class ExportOverRestTest(APITestCase):
    def test_the_rest_export_holds_no_secret(self):
        self.add_permissions("netbox_hedgehog.view_hedgehogfabric", "extras.view_exporttemplate")
        f = HedgehogFabric(name="tok", kubernetes_server="https://127.0.0.1:6443")
        f.set_secret("kubernetes_token", TOKEN)
        f.save()
        make_export_template()
        response = self.client.get(
            reverse("plugins-api:netbox_hedgehog-api:hedgehogfabric-list") + "?export=snoop", **self.header
        )
        self.assertHttpStatus(response, 200)
        text = b"".join(response).decode() if response.streaming else response.content.decode()
        self.assertIn("tok:", text)
        for secret in forbidden(HedgehogFabric.objects.get(pk=f.pk)):
            self.assertNotIn(secret, text)
