"""Sync of a fabric's Hedgehog resources: read the cluster (paginated), compare with what NetBox
holds as desired (diff with ignore rules), bring them together (apply or adopt, in dependency
order), and roll the resources' states up into the fabric's sync status."""
