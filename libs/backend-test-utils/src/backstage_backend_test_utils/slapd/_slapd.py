"""A real OpenLDAP `slapd` of our own on a loopback port, from a temporary config directory
(never the system instance), seeded with `acme.ldif` through `ldapadd` so the memberof
overlay fills `memberOf` as it would in production."""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

__all__ = ["ADMIN_DN", "SUFFIX", "Slapd", "run_slapd"]

SUFFIX = "dc=acme,dc=org"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "admin-secret"
SEED = Path(__file__).with_name("acme.ldif")

_CONFIG = """
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile {dir}/slapd.pid
database mdb
suffix "{suffix}"
rootdn "{admin}"
rootpw {password}
directory {dir}/data
maxsize 10485760
overlay memberof
"""

_TLS = """
TLSCertificateFile {dir}/server.crt
TLSCertificateKeyFile {dir}/server.key
"""


@dataclass(frozen=True)
class Slapd:
    """A running slapd.

    Args:
        url: `ldap://127.0.0.1:<port>`.
        ldaps_url: the TLS listener.
        certificate: its self-signed certificate.
        admin_dn: the directory's root DN.
        admin_password: its password.
    """

    url: str
    ldaps_url: str = ""
    """`ldaps://127.0.0.1:<port>` with a self-signed certificate (see `certificate`)."""
    certificate: Path | None = None
    """The PEM certificate the ldaps listener presents; no CA signed it."""
    admin_dn: str = ADMIN_DN
    admin_password: str = ADMIN_PASSWORD

    def modify(self, ldif: str) -> None:
        """Apply LDIF change records (`changetype: ...`) with `ldapmodify`.

        Args:
            ldif: the change records.
        """
        subprocess.run(
            [_tool("ldapmodify"), "-x", "-H", self.url, "-D", self.admin_dn,
             "-w", self.admin_password],
            input=ldif.encode(), check=True, capture_output=True,
        )  # fmt: skip


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        raise RuntimeError(f"{name} is not installed (Debian: slapd and ldap-utils)")
    return found


def _self_signed(tmp: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (tmp / "server.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp / "server.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"slapd exited: {process.stderr.read().decode() if process.stderr else ''}"
            )
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("slapd did not start listening")


@contextmanager
def run_slapd(tmp: Path) -> Iterator[Slapd]:
    """Start slapd seeded with the Acme company; stop it on exit.

    Args:
        tmp: an empty directory for its config and database.
    """
    (tmp / "data").mkdir(parents=True)
    config = tmp / "slapd.conf"
    _self_signed(tmp)
    config.write_text(
        _CONFIG.format(dir=tmp, suffix=SUFFIX, admin=ADMIN_DN, password=ADMIN_PASSWORD)
        + _TLS.format(dir=tmp)
    )
    port, tls_port = _free_port(), _free_port()
    url = f"ldap://127.0.0.1:{port}"
    ldaps_url = f"ldaps://127.0.0.1:{tls_port}"
    process = subprocess.Popen(
        [_tool("slapd"), "-f", str(config), "-h", f"{url}/ {ldaps_url}/", "-d", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        _wait_for(port, process)
        subprocess.run(
            [_tool("ldapadd"), "-x", "-H", url, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD,
             "-f", str(SEED)],
            check=True, capture_output=True,
        )  # fmt: skip
        yield Slapd(url, ldaps_url, tmp / "server.crt")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
