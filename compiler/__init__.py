"""Compiles synced-segment integration manifests into specialized, stdlib-only parsers."""

# Written into every generated file's header; bump it when generated output changes shape.
__version__ = "0.1.0"
