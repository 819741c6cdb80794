"""One TLS client context per process, for every outgoing HTTP client.

Building a context loads the whole CA bundle (about 20 ms of CPU each time): a backend that
makes a client per plugin at start-up paid that once per client. The context trusts what an
`httpx` client trusts by default (`SSL_CERT_FILE`, else `SSL_CERT_DIR`, else certifi's
bundle), so passing it as `verify=` changes nothing but the cost.
"""

from __future__ import annotations

import functools
import os
import ssl

import certifi

__all__ = ["client_ssl_context"]


@functools.cache
def client_ssl_context() -> ssl.SSLContext:
    """The process's shared context for verifying the servers an HTTP client calls.

    Made on first use and shared afterwards: callers must not change it (a client that needs
    a certificate of its own or other roots makes its own context).
    """
    cert_file = os.environ.get("SSL_CERT_FILE")
    if cert_file:
        return ssl.create_default_context(cafile=cert_file)
    cert_dir = os.environ.get("SSL_CERT_DIR")
    if cert_dir:
        return ssl.create_default_context(capath=cert_dir)
    return ssl.create_default_context(cafile=certifi.where())
