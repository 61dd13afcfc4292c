"""Access to a fabric's Kubernetes API with the official client: building it, probing it, and
turning every failure into a stable reason code with a message a person can act on."""
