"""Encryption at rest of cluster credentials (bearer tokens, kubeconfigs).

Secrets are stored as Fernet tokens (AES-128-CBC + HMAC-SHA256) made with the key(s) in
PLUGINS_CONFIG["netbox_hedgehog"]["credentials_key"]: one key, or a list whose first key encrypts
and whose every key decrypts (key rotation, see docs/operations.md). The plaintext exists only in
memory, while a client is being built; nothing here ever logs it or puts it in an exception.

A model holds a credential as a `Sealed` value (see models.fields.SecretField): it tells whether a
secret is stored and prints as a placeholder, so a template, an export or a log line that reaches
the attribute shows neither the secret nor its ciphertext. The one way back to the plaintext is
`reveal(obj, field)`, a function of this module (not a model method a template could call).
"""

import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from . import settings
from .settings import GENERATE_KEY, validate_keys  # noqa: F401  (re-exported: the key is credentials' own)

PREFIX = "fernet:"


class CredentialsUnreadable(Exception):
    """A stored secret could not be decrypted with the configured keys (a key was removed)."""


def configured_keys() -> list[str]:
    value = settings.get("credentials_key")
    return [value] if isinstance(value, str) else list(value or [])


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in configured_keys()])


def encrypt(plaintext: str) -> str:
    if not plaintext:
        return ""
    return PREFIX + _fernet().encrypt(plaintext.encode()).decode()


def decrypt(stored) -> str:
    stored = ciphertext(stored)
    if not stored:
        return ""
    if not stored.startswith(PREFIX):
        raise CredentialsUnreadable("The stored credential is not in the expected encrypted form.")
    try:
        return _fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise CredentialsUnreadable(
            "The stored credential cannot be decrypted with the configured credentials_key "
            "(was the key that encrypted it removed?). Enter the credential again."
        ) from None


def rotate(stored) -> str:
    """Re-encrypt a stored secret with the first configured key."""
    stored = ciphertext(stored)
    if not stored:
        return ""
    try:
        return PREFIX + _fernet().rotate(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise CredentialsUnreadable(
            "A stored credential cannot be decrypted with any configured key."
        ) from None


def fingerprint(stored) -> str:
    """A short, non-reversible mark that changes whenever a new secret is stored (for change logs)."""
    stored = ciphertext(stored)
    if not stored:
        return ""
    return "set, sha256:" + hashlib.sha256(stored.encode()).hexdigest()[:12]


class Sealed:
    """A stored credential as a model attribute holds it: the ciphertext, never printed.

    True when a secret is stored; equal to another Sealed of the same ciphertext (and to that text,
    so an empty one equals ""); `str()` gives a placeholder. Templates (Django's and NetBox's Jinja2 sandbox) refuse attributes that start with
    an underscore, so `_ciphertext` cannot be reached from one.
    """

    __slots__ = ("_ciphertext",)
    PLACEHOLDER = "(stored, encrypted)"

    def __init__(self, stored: str = ""):
        self._ciphertext = stored or ""

    def __bool__(self):
        return bool(self._ciphertext)

    def __eq__(self, other):
        if isinstance(other, Sealed):
            return self._ciphertext == other._ciphertext
        if isinstance(other, str):  # the stored text ("" when nothing is stored)
            return self._ciphertext == other
        return NotImplemented

    def __hash__(self):
        return hash(self._ciphertext)

    def __str__(self):
        return self.PLACEHOLDER if self._ciphertext else ""

    def __repr__(self):
        return f"<Sealed {'credential' if self._ciphertext else '(empty)'}>"


def ciphertext(value) -> str:
    """The stored form of a credential (a Sealed value or the stored text itself)."""
    if isinstance(value, Sealed):
        return value._ciphertext
    return value or ""


def seal(plaintext: str) -> Sealed:
    return Sealed(encrypt(plaintext or ""))


def reveal(obj, name: str) -> str:
    """The credential `name` of `obj` in clear, to build a client; raises CredentialsUnreadable.

    Deliberately a module function: nothing that renders a model (templates, exports, custom links,
    serializers) can call it.
    """
    if name not in getattr(type(obj), "SECRET_FIELDS", ()):
        raise ValueError(f"{name} is not a credential field of {type(obj).__name__}")
    return decrypt(ciphertext(getattr(obj, name)))
