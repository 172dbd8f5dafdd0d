"""Bad manifests: fixture files beside the diagnostics the build must print for them."""
