# NetBox's filterset test mixin looks the FilterSet up as "<first part of the test module>.filtersets";
# our tests live in the top-level "tests" package, so this points it at the plugin's filtersets.
from netbox_hedgehog.filtersets import *  # noqa: F403
