"""netbox-hedgehog: manage Hedgehog open network fabrics from NetBox.

The plugin configuration lives in netbox_hedgehog.plugin; it is loaded on first access of
`netbox_hedgehog.config`, so that Django-free parts (the emulated test cluster run with
`python -m netbox_hedgehog.testing`) can be imported without NetBox.
"""

__version__ = "0.1.0"


def __getattr__(name):
    if name in ("config", "HedgehogConfig"):
        from .plugin import HedgehogConfig

        return HedgehogConfig
    raise AttributeError(name)
