"""A python-oracledb plugin: ``import aadtoken.oracledb_plugin`` registers a parameter hook
(``oracledb.register_params_hook``, as python-oracledb's own ``oracledb.plugins.azure_tokens``
does), after which::

    oracledb.connect(dsn="tcps://db.example.com:1522/service",
                     extra_auth_params={"auth_type": "aadtoken", "tenant_id": "...",
                                        "client_id": "...", "client_secret": "...",
                                        "scope": "api://my-db-app/.default"})

(and ``oracledb.create_pool(..., homogeneous=True, extra_auth_params=...)``) authenticate with
aadtoken's tokens. Every key of ``extra_auth_params`` but ``auth_type`` is an aadtoken setting
(the README's table; an unknown key or a bad value raises :class:`aadtoken.AadTokenError` naming
it). The hook sets the parameters' ``access_token`` to :meth:`aadtoken.Client.oracledb_access_token`
of a client shared by every connection and pool with the same settings — one token cache and one
in-flight request per identity, where python-oracledb's Azure plugin builds an MSAL application
per call. At most :data:`MAX_CLIENTS` clients are remembered (least recently used first out); a
forgotten client lives on while connections or pools still use it.

The driver calls the callable on its own thread while it opens a connection, so it never waits
for a person: with ``auth_method=device_code`` or ``interactive``, sign in first on the host's own
thread into the same ``cache_file`` (``aadtoken login``, or :meth:`aadtoken.Client.sign_in`);
until then the callable raises :class:`aadtoken.AadTokenError` with ``ERR_INTERACTION_REQUIRED``.
"""

import collections
import hashlib
import threading

import oracledb

from . import Client

__all__ = ["AUTH_TYPE", "MAX_CLIENTS", "client_for", "params_hook"]

#: The ``auth_type`` in ``extra_auth_params`` that selects aadtoken (compared case-insensitively).
AUTH_TYPE = "aadtoken"

#: How many clients (distinct settings) the plugin remembers.
MAX_CLIENTS = 16

_lock = threading.Lock()
_clients = collections.OrderedDict()  # digest of the settings -> Client


def _settings(extra_auth_params):
    return {str(k): v for k, v in extra_auth_params.items() if str(k).lower() != "auth_type"}


def _digest(settings):
    # The settings include a secret: the cache is keyed by a digest, not by a copy of them.
    h = hashlib.sha256()
    for key, value in sorted((k.strip().lower(), str(v)) for k, v in settings.items()):
        h.update(f"{len(key)}:{key}={len(value)}:{value};".encode("utf-8", "surrogatepass"))
    return h.digest()


def client_for(settings):
    """The shared :class:`aadtoken.Client` for ``settings`` (a dict of aadtoken settings),
    created on first use. Raises :class:`aadtoken.AadTokenError` for bad settings."""
    key = _digest(settings)
    with _lock:
        client = _clients.get(key)
        if client is not None and not client.closed:
            _clients.move_to_end(key)
            return client
        client = Client(settings)
        _clients[key] = client
        while len(_clients) > MAX_CLIENTS:
            _clients.popitem(last=False)
        return client


def params_hook(params):
    """The hook python-oracledb calls with a copy of the connection or pool parameters before it
    connects or creates a pool: for ``auth_type="aadtoken"``, sets ``access_token``."""
    extra = params.extra_auth_params
    if not extra or str(extra.get("auth_type", "")).lower() != AUTH_TYPE:
        return
    params.set(access_token=client_for(_settings(extra)).oracledb_access_token())


oracledb.register_params_hook(params_hook)
