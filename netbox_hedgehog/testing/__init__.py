"""Test support: an emulated Kubernetes API server with the Hedgehog Fabric API (see ``cluster``)."""
