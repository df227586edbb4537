"""Microsoft Entra ID access tokens for Oracle Database clients, from Python.

A ctypes binding (standard library only) of libaadtoken's C ABI: tokens are fetched, cached
and refreshed in-process by the native library, shared with every other user of the library
in the process (one cache, one in-flight request per identity and scopes).

    import aadtoken, oracledb

    client = aadtoken.Client({"tenant_id": "...", "client_id": "...",
                              "client_secret": "...", "scope": "api://my-db-app/.default"})
    token = client.get_token()               # cached while valid
    print(token.expires_on)                  # Unix seconds

    # python-oracledb (thin mode needs a tcps:// DSN for token authentication):
    conn = oracledb.connect(dsn="tcps://db.example.com:1522/service",
                            access_token=client.oracledb_access_token())

Settings, their keys and the settings-string grammar are those of the C ABI (see the README).
Failures raise :class:`AadTokenError`, carrying the C status code (e.g. 300 for
``AADTOKEN_ERR_INVALID_CLIENT``), the message, the AADSTS code and the correlation id.
"""

import contextlib
import ctypes
import os
import threading
import time
import weakref

from . import _native

__all__ = ["Client", "Token", "Claims", "TokenFileKeeper", "AadTokenError", "version",
           "status_text", "shutdown"]

# Status codes (OK, ERR_INVALID_ARGUMENT = 100 …), as in aadtoken.h without the AADTOKEN_
# prefix: every one, generated from the library's status table (see _status.py).
from ._status import *  # noqa: E402,F401,F403
from ._status import OK  # noqa: E402


def version():
    """The loaded library's version, e.g. ``"0.1.0"``."""
    return _native.lib().aadtoken_version().decode()


def status_text(status):
    """The static text of a status code: ``"NAME: short meaning"``."""
    return _native.lib().aadtoken_status_str(status).decode()


def shutdown():
    """Stop the library's background work (proactive refreshes, pending asynchronous requests)
    and join its threads. Only for hosts that unload the library or must exit without any
    library thread left; call it when no other thread is inside an aadtoken call. Clients,
    tokens and the cache stay valid: later network use starts the background work again."""
    _native.lib().aadtoken_shutdown()


class AadTokenError(Exception):
    """An aadtoken failure.

    Attributes: ``status`` (the C status code), ``status_name`` (e.g.
    ``"AADTOKEN_ERR_INVALID_CLIENT"``), ``message`` (never contains a secret), ``oauth_code``
    (e.g. ``"invalid_client"`` or ``""``), ``aadsts`` (the main AADSTS number or 0),
    ``aadsts_codes`` (all of them), ``correlation_id`` and ``trace_id`` (or ``""``),
    ``http_status`` and ``retry_after`` (seconds; 0 when absent).
    """

    def __init__(self, status, message, oauth_code="", aadsts_codes=(), correlation_id="",
                 trace_id="", http_status=0, retry_after=0):
        super().__init__(message)
        self.status = status
        self.message = message
        self.oauth_code = oauth_code
        self.aadsts_codes = tuple(aadsts_codes)
        self.aadsts = self.aadsts_codes[0] if self.aadsts_codes else 0
        self.correlation_id = correlation_id
        self.trace_id = trace_id
        self.http_status = http_status
        self.retry_after = retry_after

    @property
    def status_name(self):
        return status_text(self.status).split(":", 1)[0]

    def __repr__(self):
        return (f"AadTokenError(status={self.status}, aadsts={self.aadsts}, "
                f"correlation_id={self.correlation_id!r}, message={self.message!r})")


def _take_error(status, err):
    """Read and free a C error object; returns the AadTokenError to raise."""
    lib = _native.lib()
    if not err:
        return AadTokenError(status, status_text(status))
    try:
        codes = [lib.aadtoken_error_aadsts_at(err, i)
                 for i in range(lib.aadtoken_error_aadsts_count(err))]
        main = lib.aadtoken_error_aadsts(err)
        if main and not codes:
            codes = [main]
        return AadTokenError(
            lib.aadtoken_error_status(err),
            lib.aadtoken_error_message(err).decode("utf-8", "replace"),
            oauth_code=lib.aadtoken_error_oauth_code(err).decode("utf-8", "replace"),
            aadsts_codes=codes,
            correlation_id=lib.aadtoken_error_correlation_id(err).decode("utf-8", "replace"),
            trace_id=lib.aadtoken_error_trace_id(err).decode("utf-8", "replace"),
            http_status=lib.aadtoken_error_http_status(err),
            retry_after=lib.aadtoken_error_retry_after(err),
        )
    finally:
        lib.aadtoken_error_free(err)


def _check(call, *args):
    """Call a fallible C function with an error out-parameter; raise on failure."""
    err = ctypes.c_void_p()
    status = call(*args, ctypes.byref(err))
    if status != OK:
        raise _take_error(status, err.value)


class _SecretBuffer:
    """A NUL-terminated UTF-8 copy of a string in memory that is zeroed after use (settings
    may hold a client secret). Python's own str cannot be wiped; this limits the copies."""

    def __init__(self, text):
        if not isinstance(text, str):
            raise TypeError(f"expected str, got {type(text).__name__}")
        data = text.encode("utf-8")
        self.buf = ctypes.create_string_buffer(data, len(data) + 1)

    def __enter__(self):
        return self.buf

    def __exit__(self, *exc):
        ctypes.memset(self.buf, 0, len(self.buf))


class Token:
    """An access token: ``token`` (the JWT, a str), ``expires_on`` and ``refresh_on`` (Unix
    seconds: the expiry, and when aadtoken plans to renew it). An immutable snapshot. The token
    is a credential: ``repr()`` and ``str()`` never show it."""

    __slots__ = ("token", "expires_on", "refresh_on", "_handle", "__weakref__")

    def __init__(self, token, expires_on, refresh_on, _handle=None):
        self.token = token
        self.expires_on = expires_on
        self.refresh_on = refresh_on
        # The native token (a reference-counted snapshot, zeroed when the last reference goes),
        # kept for claims(); released when this object is collected.
        self._handle = _handle
        if _handle:
            weakref.finalize(self, _native.lib().aadtoken_token_free, _handle)

    @property
    def expires_in(self):
        """Seconds left before expiry (negative once expired)."""
        return self.expires_on - int(time.time())

    def claims(self):
        """The token's claims (its JWT payload), decoded **without checking the signature**:
        what the token says, for people and logs. Raises :class:`AadTokenError` (status 100)
        for a token that is not a readable JWT."""
        lib = _native.lib()
        out = ctypes.c_void_p()
        _check(lib.aadtoken_token_claims, self._handle, ctypes.byref(out))
        try:
            return Claims(out.value)
        finally:
            lib.aadtoken_claims_free(out.value)

    def __repr__(self):
        return (f"Token(<{len(self.token)} chars, redacted>, expires_on={self.expires_on}, "
                f"refresh_on={self.refresh_on})")

    __str__ = __repr__


class Claims:
    """A token's claims: ``aud`` (must equal the database's ``application_id_uri``), ``iss``,
    ``tid``, ``oid``, ``upn`` (a user's sign-in name, "" for applications), ``appid``,
    ``roles`` and ``scp`` (tuples), ``exp``, ``iat``, ``nbf`` (Unix seconds, 0 when absent), and
    ``json`` (the whole payload; :meth:`as_dict` parses it)."""

    __slots__ = ("json", "aud", "iss", "tid", "oid", "upn", "appid", "roles", "scp", "exp", "iat",
                 "nbf")

    def __init__(self, handle):
        lib = _native.lib()

        def text(fn):
            return fn(handle).decode("utf-8", "replace")

        self.json = text(lib.aadtoken_claims_json)
        self.aud = text(lib.aadtoken_claims_aud)
        self.iss = text(lib.aadtoken_claims_iss)
        self.tid = text(lib.aadtoken_claims_tid)
        self.oid = text(lib.aadtoken_claims_oid)
        self.upn = text(lib.aadtoken_claims_upn)
        self.appid = text(lib.aadtoken_claims_appid)
        self.roles = tuple(text(lib.aadtoken_claims_roles).split())
        self.scp = tuple(text(lib.aadtoken_claims_scp).split())
        self.exp = lib.aadtoken_claims_exp(handle)
        self.iat = lib.aadtoken_claims_iat(handle)
        self.nbf = lib.aadtoken_claims_nbf(handle)

    def as_dict(self):
        import json
        return json.loads(self.json)

    def __repr__(self):
        return f"Claims(aud={self.aud!r}, appid={self.appid!r}, tid={self.tid!r}, exp={self.exp})"


class _Closing:
    """``with`` support: leaving the block calls ``close()``."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class TokenFileKeeper(_Closing):
    """Keeps the Oracle token file (``TOKEN_AUTH=OAUTH``, ``TOKEN_LOCATION``) fresh from a
    library thread; made by :meth:`Client.start_token_file_keeper`. ``path`` is the file,
    ``expires_on`` the expiry of the token in it, ``last_error`` the last failed renewal (an
    :class:`AadTokenError`) or ``None``. :meth:`stop` (idempotent; also on leaving a ``with``
    block or when collected) stops the thread and leaves the file in place."""

    def __init__(self, handle):
        lib = _native.lib()
        self._lock = threading.Lock()
        self._handle = handle
        self.path = lib.aadtoken_token_file_keeper_path(handle).decode("utf-8", "replace")
        self._finalizer = weakref.finalize(self, lib.aadtoken_token_file_keeper_stop, handle)

    def _live(self):
        if not self._finalizer.alive:
            raise ValueError("this TokenFileKeeper is stopped")
        return self._handle

    @property
    def expires_on(self):
        with self._lock:
            return _native.lib().aadtoken_token_file_keeper_expires_on(self._live())

    @property
    def last_error(self):
        with self._lock:
            err = ctypes.c_void_p()
            status = _native.lib().aadtoken_token_file_keeper_last_error(self._live(), ctypes.byref(err))
            return None if status == OK else _take_error(status, err.value)

    @property
    def stopped(self):
        return not self._finalizer.alive

    def stop(self):
        with self._lock:
            self._finalizer()

    close = stop  # what leaving a ``with`` block calls

    def __repr__(self):
        return f"<aadtoken.TokenFileKeeper {self.path!r}{' stopped' if self.stopped else ''}>"


def _free_client(handle, _callbacks=None):
    # The callbacks (ctypes function objects) are passed along only to stay alive until the
    # native client that may call them is freed.
    _native.lib().aadtoken_client_free(handle)


def _device_code_callback(fn):
    def call(_userdata, message, user_code, verification_uri, expires_on):
        try:
            fn(message.decode("utf-8"), user_code.decode("utf-8"),
               verification_uri.decode("utf-8"), expires_on)
        except BaseException:  # an exception must not unwind into the library
            pass
    return _native.DEVICE_CODE_FN(call)


def _open_url_callback(fn):
    def call(_userdata, url):
        try:
            return 0 if fn(url.decode("utf-8")) is not False else 1
        except BaseException:
            return 1
    return _native.OPEN_URL_FN(call)


class Client(_Closing):
    """Tokens for one identity. Thread-safe: share one client per identity between threads.

    ``settings`` is a dict of settings (``tenant_id``, ``client_id``, ``client_secret``,
    ``scope``, ``authority_host``, ``ca_file``, ``timeout_ms``, ``expiry_margin_s``) or a
    settings string ``"key=value; key=value"``. With ``env=True`` the Azure SDK environment
    variables (``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID``, ``AZURE_CLIENT_SECRET``,
    ``AZURE_AUTHORITY_HOST``) are read first, so ``settings`` override them. An unknown key, a
    bad value or a missing setting raises :class:`AadTokenError` naming it. No network request
    is made until the first token is asked for.

    Person sign-in (``auth_method=device_code`` or ``interactive``): ``device_code_callback``
    is called as ``fn(message, user_code, verification_uri, expires_on)`` to show the person the
    code (the library never prints it); ``open_url`` as ``fn(url)`` to open the sign-in page
    (return ``False`` or raise if it could not; without it the system browser is used). Both
    run on a library thread. :meth:`sign_in` signs in explicitly; ``get_token`` signs in by
    itself when no refresh token works (unless ``automatic_sign_in=false``).

    Use as a context manager, or call :meth:`close`; a closed client raises ``ValueError``.
    ``close()`` is idempotent and waits for calls in progress on other threads.
    """

    def __init__(self, settings=None, *, env=False, device_code_callback=None, open_url=None):
        lib = _native.lib()
        self._handle = None
        self._cond = threading.Condition()
        self._in_use = 0
        self._closed = False
        callbacks = []
        config = lib.aadtoken_config_new()
        try:
            if device_code_callback is not None:
                callbacks.append(_device_code_callback(device_code_callback))
                _check(lib.aadtoken_config_set_device_code_callback, config, callbacks[-1], None)
            if open_url is not None:
                callbacks.append(_open_url_callback(open_url))
                _check(lib.aadtoken_config_set_open_url_callback, config, callbacks[-1], None)
            if env:
                _check(lib.aadtoken_config_load_env, config)
            if isinstance(settings, str):
                with _SecretBuffer(settings) as buf:
                    _check(lib.aadtoken_config_parse, config, buf)
            elif settings is not None:
                for key, value in dict(settings).items():
                    with _SecretBuffer(key) as k, _SecretBuffer(str(value)) as v:
                        _check(lib.aadtoken_config_set, config, k, v)
            handle = ctypes.c_void_p()
            _check(lib.aadtoken_client_new, config, ctypes.byref(handle))
        finally:
            lib.aadtoken_config_free(config)
        self._handle = handle.value
        self._finalizer = weakref.finalize(self, _free_client, self._handle, callbacks)

    @classmethod
    def from_environment(cls):
        """A client from the Azure SDK environment variables, then the settings string in
        ``AADTOKEN_SETTINGS`` when it is set (e.g. ``"scope=api://my-db/.default"``)."""
        return cls(os.environ.get("AADTOKEN_SETTINGS") or None, env=True)

    def get_token(self, scopes=None):
        """A token for ``scopes`` (space separated; ``None`` = the ``scope`` setting): the cached
        one while it has more than ``expiry_margin_s`` left, else a new one (blocking for at most
        ``timeout_ms``; the GIL is released meanwhile)."""
        return self._call(_native.lib().aadtoken_client_get_token, scopes)

    def refresh_token(self, scopes=None):
        """Always ask Entra ID for a new token and replace the cached one (for when a server
        rejected a token before its expiry)."""
        return self._call(_native.lib().aadtoken_client_refresh_token, scopes)

    def get_token_silent(self, scopes=None):
        """Like :meth:`get_token`, for a database driver's token callback: it never waits for a
        person. With ``auth_method=device_code`` or ``interactive`` it answers from the signed-in
        account (the cached token, or a new one through its refresh token), or raises
        :class:`AadTokenError` with status ``ERR_INTERACTION_REQUIRED`` at once — no prompt, no
        browser, whatever ``automatic_sign_in`` says (sign in first with :meth:`sign_in`, or
        ``aadtoken login`` with ``cache_file``). Other credentials: exactly :meth:`get_token`."""
        return self._call(_native.lib().aadtoken_client_get_token_silent, scopes)

    def refresh_token_silent(self, scopes=None):
        """Like :meth:`refresh_token` (always asks Entra ID), never waiting for a person, as
        :meth:`get_token_silent`: a person's token is refreshed through the signed-in account's
        refresh token, else ``ERR_INTERACTION_REQUIRED`` at once."""
        return self._call(_native.lib().aadtoken_client_refresh_token_silent, scopes)

    def sign_in(self, scopes=None):
        """Sign a person in now (device code or browser, per ``auth_method``), even when a
        cached refresh token would still work; returns a token for ``scopes``. The account and
        its refresh token are kept (in ``cache_file`` too), so later ``get_token`` calls for any
        scope of the account are silent. Blocks until the sign-in ends (the GIL is released)."""
        return self._call(_native.lib().aadtoken_client_sign_in, scopes)

    def sign_out(self):
        """Sign the person out: forget the signed-in account (the one ``login_hint`` or
        ``account`` selects, else the only one) and its refresh token, in memory and in
        ``cache_file``, and drop the access tokens cached for the application; the next
        ``get_token`` signs in again. Succeeds when nobody is signed in."""
        with self._using():
            _check(_native.lib().aadtoken_client_sign_out, self._handle)

    def oracledb_access_token(self, scopes=None):
        """A callable for python-oracledb's ``access_token`` parameter
        (``oracledb.connect(access_token=...)``, ``oracledb.create_pool(..., homogeneous=True,
        access_token=...)``). The driver calls it with ``refresh=False`` for a token (served
        from aadtoken's cache while valid) and with ``refresh=True`` when it found its token
        expired (aadtoken then asks Entra ID for a new one). Returns the token string.

        The driver calls it on its own thread while it opens a connection, so it never waits
        for a person (:meth:`get_token_silent`, :meth:`refresh_token_silent`): with person
        sign-in, sign in first (:meth:`sign_in`, or ``aadtoken login`` with ``cache_file``);
        until then it raises :class:`AadTokenError` with ``ERR_INTERACTION_REQUIRED`` at once."""

        def access_token(refresh=False):
            token = self.refresh_token_silent(scopes) if refresh else self.get_token_silent(scopes)
            return token.token

        return access_token

    def write_token_file(self, location=None, scopes=None):
        """Write a token for ``scopes`` to the Oracle token file once (``location``: a
        ``TOKEN_LOCATION`` directory, whose file ``token`` is written, or a file path; ``None`` =
        the ``token_location`` setting). Raw token, no newline, mode 0600, replaced atomically;
        a symbolic link or a directory others can write is refused (status 401)."""
        lib = _native.lib()
        with self._using():
            _check(lib.aadtoken_client_write_token_file, self._handle, _opt_bytes(scopes, "scopes"),
                   _opt_bytes(location, "location"))

    def start_token_file_keeper(self, location=None, scopes=None):
        """Write the Oracle token file now and keep it fresh from a library thread (renewed
        ahead of expiry; on failure the last good token stays and renewal is retried with
        backoff). Returns a :class:`TokenFileKeeper`; it outlives this client until stopped."""
        lib = _native.lib()
        out = ctypes.c_void_p()
        with self._using():
            _check(lib.aadtoken_token_file_keeper_start, self._handle, _opt_bytes(scopes, "scopes"),
                   _opt_bytes(location, "location"), ctypes.byref(out))
        return TokenFileKeeper(out.value)

    @property
    def closed(self):
        return self._closed

    def close(self):
        """Free the native client. Idempotent; waits for calls in progress on other threads.
        Tokens already obtained stay valid; cached tokens stay in the process-wide cache."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            while self._in_use:
                self._cond.wait()
        self._finalizer()

    def __repr__(self):
        return f"<aadtoken.Client {'closed' if self._closed else 'open'}>"

    @contextlib.contextmanager
    def _using(self):
        """Keep the native client alive for the duration of a call (close() waits)."""
        with self._cond:
            if self._closed:
                raise ValueError("this aadtoken.Client is closed")
            self._in_use += 1
        try:
            yield
        finally:
            with self._cond:
                self._in_use -= 1
                if self._in_use == 0:
                    self._cond.notify_all()

    def _call(self, fn, scopes):
        arg = _opt_bytes(scopes, "scopes")
        lib = _native.lib()
        out = ctypes.c_void_p()
        with self._using():
            _check(fn, self._handle, arg, ctypes.byref(out))
        tok = out.value
        try:
            value = ctypes.string_at(lib.aadtoken_token_value(tok), lib.aadtoken_token_len(tok))
            token = Token(value.decode("utf-8"), lib.aadtoken_token_expires_on(tok),
                          lib.aadtoken_token_refresh_on(tok), _handle=tok)
        except BaseException:
            lib.aadtoken_token_free(tok)
            raise
        return token


def _opt_bytes(text, name):
    if text is None:
        return None
    if not isinstance(text, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or None, not {type(text).__name__}")
    return os.fsencode(text) if isinstance(text, os.PathLike) else text.encode("utf-8")
