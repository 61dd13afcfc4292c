"""Model fields of the plugin."""

from django.db import models
from django.db.models.query_utils import DeferredAttribute

from ..credentials import Sealed, ciphertext, fingerprint


class SealedAttribute(DeferredAttribute):
    """Whatever is assigned (the stored text, or a Sealed value) is kept as a Sealed value."""

    def __set__(self, instance, value):
        instance.__dict__[self.field.attname] = value if isinstance(value, Sealed) else Sealed(value or "")


class SecretField(models.TextField):
    """A credential stored encrypted (see netbox_hedgehog.credentials).

    The attribute (and what values()/values_list() return) is a `Sealed` value, which prints as a
    placeholder; the database holds the ciphertext; serialization (the change log, snapshots, event
    data) holds a fingerprint. Set it
    with `credentials.seal(plaintext)` (or a model's `set_secret`); read it only with
    `credentials.reveal(obj, name)`.
    """

    descriptor_class = SealedAttribute

    def from_db_value(self, value, expression, connection):
        # values() and values_list() too: a template reaching a queryset gets no ciphertext either
        return Sealed(value or "")

    def to_python(self, value):
        return value if isinstance(value, Sealed) else Sealed(value or "")

    def get_prep_value(self, value):
        # Not TextField's: it would turn the text back into a Sealed value through to_python().
        return ciphertext(value)

    def value_to_string(self, obj):
        return fingerprint(self.value_from_object(obj))
