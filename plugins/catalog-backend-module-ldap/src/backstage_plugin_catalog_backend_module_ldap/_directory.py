"""Searching the directory with ldap3 (pure Python, so no libldap to build; it has the
paged results control). ldap3 blocks, so each read runs in a worker thread."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import uuid
from urllib.parse import urlsplit

import ldap3
from backstage_common.errors import AuthenticationError, ServiceUnavailableError

from backstage_plugin_catalog_backend_module_ldap._config import LdapProviderConfig, SearchSpec
from backstage_plugin_catalog_backend_module_ldap._records import (
    ACTIVE_DIRECTORY,
    AE_DIR,
    DEFAULT_VENDOR,
    FREE_IPA,
    LdapEntry,
    Vendor,
)

__all__ = ["read_directory"]

_SCOPES = {"base": ldap3.BASE, "one": ldap3.LEVEL, "sub": ldap3.SUBTREE}


def _text(name: str, value: bytes) -> str:
    if name.lower() == "objectguid" and len(value) == 16:
        return str(uuid.UUID(bytes_le=value))  # AD stores the first three groups little-endian
    return value.decode("utf-8", errors="replace")


def _close(connection: ldap3.Connection) -> None:
    with contextlib.suppress(ldap3.core.exceptions.LDAPException):
        connection.unbind()
    # ldap3 keeps the socket of a failed connect() open
    if connection.socket is not None:
        connection.socket.close()


def _connect(config: LdapProviderConfig) -> ldap3.Connection:
    parts = urlsplit(config.target)
    secure = parts.scheme == "ldaps"
    tls = ldap3.Tls(
        validate=ssl.CERT_REQUIRED if config.reject_unauthorized else ssl.CERT_NONE,
        local_private_key_file=config.client_key_file,
        local_certificate_file=config.client_certificate_file,
    )
    server = ldap3.Server(
        parts.hostname or "localhost",
        port=parts.port or (636 if secure else 389),
        use_ssl=secure,
        tls=tls if secure else None,
        get_info=ldap3.NONE,
        connect_timeout=10,
    )
    connection = ldap3.Connection(
        server,
        user=config.bind_dn,
        password=config.bind_secret,
        authentication=ldap3.SIMPLE if config.bind_dn else ldap3.ANONYMOUS,
        raise_exceptions=True,
        receive_timeout=60,
    )
    refused = (
        ldap3.core.exceptions.LDAPBindError,
        ldap3.core.exceptions.LDAPInvalidCredentialsResult,
    )
    try:
        connection.bind()
    except refused as error:
        _close(connection)
        raise AuthenticationError(f"LDAP bind to {config.target} failed: {error}") from None
    except ldap3.core.exceptions.LDAPException as error:
        _close(connection)
        raise ServiceUnavailableError(f"LDAP server {config.target}: {error}") from None
    return connection


def _vendor(connection: ldap3.Connection, config: LdapProviderConfig) -> Vendor:
    connection.search("", "(objectClass=*)", search_scope=ldap3.BASE, attributes=["*", "+"])
    root = {
        k.lower() for entry in connection.response or [] for k in entry.get("raw_attributes", {})
    }
    if "forestfunctionality" in root:
        found = ACTIVE_DIRECTORY
    elif "ipadomainlevel" in root:
        found = FREE_IPA
    elif "aeroot" in root:
        found = AE_DIR
    else:
        found = DEFAULT_VENDOR
    return Vendor(
        found.name,
        config.dn_attribute or found.dn_attribute,
        config.uuid_attribute or found.uuid_attribute,
    )


def _search(connection: ldap3.Connection, spec: SearchSpec) -> list[LdapEntry]:
    options = spec.options
    arguments = dict(
        search_base=spec.dn,
        search_filter=options.filter,
        search_scope=_SCOPES[options.scope],
        attributes=list(options.attributes),
        size_limit=options.size_limit,
        time_limit=options.time_limit,
    )
    if options.paged:
        results = list(
            connection.extend.standard.paged_search(
                **arguments, paged_size=options.paged, generator=True
            )
        )
    else:
        connection.search(**arguments)
        results = list(connection.response or [])
    entries = []
    for result in results:
        if result.get("type") != "searchResEntry":
            continue  # referrals
        attributes: dict[str, list[str]] = {}
        for name, values in result.get("raw_attributes", {}).items():
            attributes.setdefault(name.lower(), []).extend(_text(name, v) for v in values)
        entries.append(LdapEntry(result["dn"], attributes))
    return entries


def _read(
    config: LdapProviderConfig,
) -> tuple[Vendor, list[tuple[SearchSpec, LdapEntry]], list[tuple[SearchSpec, LdapEntry]]]:
    connection = _connect(config)
    try:
        vendor = _vendor(connection, config)
        users = [(s, e) for s in config.users for e in _search(connection, s)]
        groups = [(s, e) for s in config.groups for e in _search(connection, s)]
    except ldap3.core.exceptions.LDAPException as error:
        raise ServiceUnavailableError(f"LDAP search on {config.target} failed: {error}") from None
    finally:
        _close(connection)
    return vendor, users, groups


async def read_directory(
    config: LdapProviderConfig,
) -> tuple[Vendor, list[tuple[SearchSpec, LdapEntry]], list[tuple[SearchSpec, LdapEntry]]]:
    """Bind, detect the vendor and run every user and group search.

    Args:
        config: the provider's config.

    Raises:
        AuthenticationError: the bind was refused.
        ServiceUnavailableError: the server cannot be reached or a search failed.
    """
    return await asyncio.to_thread(_read, config)
