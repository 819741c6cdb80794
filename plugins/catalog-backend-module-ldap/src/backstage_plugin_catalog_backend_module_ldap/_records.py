"""What a directory read gives: the server's kind and its entries. Apart from the reading
itself, so that importing the module (a unit that hosts it and has not read yet) does not
import ldap3."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ACTIVE_DIRECTORY",
    "AE_DIR",
    "DEFAULT_VENDOR",
    "FREE_IPA",
    "LdapEntry",
    "Vendor",
]


@dataclass(frozen=True, slots=True)
class Vendor:
    """Which attributes hold an entry's DN and UUID on this kind of server."""

    name: str
    dn_attribute: str
    uuid_attribute: str


DEFAULT_VENDOR = Vendor("default", "entryDN", "entryUUID")
ACTIVE_DIRECTORY = Vendor("activeDirectory", "distinguishedName", "objectGUID")
FREE_IPA = Vendor("freeipa", "dn", "ipaUniqueID")
AE_DIR = Vendor("aeDir", "dn", "entryUUID")


@dataclass(frozen=True, slots=True)
class LdapEntry:
    """One search result: its DN and every attribute's values as text."""

    dn: str
    attributes: dict[str, list[str]]

    def values(self, name: str) -> list[str]:
        """The attribute's values; `dn` is the entry's DN (attribute names ignore case)."""
        if not name:
            return []
        if name.lower() == "dn":
            return [self.dn]
        return self.attributes.get(name.lower(), [])
