"""Where the Avro schemas live: the repo's ``schemas/`` or ``nextbest/_schemas`` in a wheel."""

from __future__ import annotations

import os
from pathlib import Path

from nextbest.codec.errors import SchemaConfigError

#: Environment variable that points the codec at another schema folder (tests, deployments).
SCHEMA_DIR_ENV = "NEXTBEST_SCHEMA_DIR"
REGISTRY_FILE = "registry.json"


def schema_dir() -> Path:
    """Return the folder holding ``registry.json`` and the ``*.avsc`` files.

    Looked up in order: ``$NEXTBEST_SCHEMA_DIR``; ``nextbest/_schemas`` next to the installed
    package (the wheel force-includes ``schemas/`` there); the checkout's ``schemas/`` folder
    (``src/nextbest/codec/locate.py`` → ``<repo>/schemas``).

    >>> (schema_dir() / "registry.json").is_file()
    True
    """
    override = os.environ.get(SCHEMA_DIR_ENV)
    if override:
        path = Path(override)
        if not (path / REGISTRY_FILE).is_file():
            raise SchemaConfigError(f"${SCHEMA_DIR_ENV}={override} has no {REGISTRY_FILE}")
        return path
    package = Path(__file__).resolve().parent.parent  # .../nextbest
    candidates = [package / "_schemas"]
    # In a checkout the package sits at <repo>/src/nextbest; look for <repo>/schemas upwards.
    candidates += [parent / "schemas" for parent in package.parents[:3]]
    for path in candidates:
        if (path / REGISTRY_FILE).is_file():
            return path
    tried = ", ".join(str(p) for p in candidates)
    raise SchemaConfigError(f"no schema folder with {REGISTRY_FILE} found (tried {tried})")
