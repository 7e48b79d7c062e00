"""Identity resolution: many identifiers, one canonical customer."""

from nextbest.identity.graph import IdentityGraph, Resolution, Split, identifier_keys

__all__ = ["IdentityGraph", "Resolution", "Split", "identifier_keys"]
