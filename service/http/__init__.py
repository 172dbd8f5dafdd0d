"""The HTTP layer: the ASGI app and its routes (see service/README.md for the map)."""
