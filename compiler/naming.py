"""Naming: the one place generated names come from."""

from __future__ import annotations

import keyword
import re

RUNTIME_MODULE = "_runtime"


def module_name(integration_key: str) -> str:
    """The generated module for an integration key: non-identifier characters become _."""
    name = re.sub(r"\W", "_", integration_key, flags=re.ASCII)
    if name[0].isdigit() or keyword.iskeyword(name):
        name = "_" + name
    return name
