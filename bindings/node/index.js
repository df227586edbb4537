'use strict';
// Microsoft Entra ID access tokens for Oracle Database clients, from Node.js: a binding of
// libaadtoken's C ABI through koffi. Tokens are fetched, cached and refreshed in-process by the
// native library, shared with every other user of the library in the process.
//
// Nothing here blocks the event loop: every call that may wait for the network (getToken, signIn,
// refreshToken, writeTokenFile, startTokenFileKeeper, TokenFileKeeper#stop) runs the C function
// on one of libuv's worker threads (koffi's `fn.async`) and settles a promise. The rest (building
// a client, reading a token or an error) never does I/O and is called directly.
//
// Why not the C ABI's aadtoken_client_get_token_async: its callback runs on a library thread,
// and koffi runs a JS callback called from another thread by queueing it to the event loop and
// blocking that thread until the loop has run it — stalling the library's thread (and every
// request and background refresh behind it) while the loop is busy, and deadlocking with
// anything on the main thread that waits for the library. There is no asynchronous refresh,
// token-file write or keeper stop in the C ABI either.

const util = require('node:util');
const native = require('./native');
const status = require('./status');

/** The loaded library's version, e.g. "0.1.0". */
function version() {
  return native.load().aadtoken_version();
}

/** The static text of a status code: "NAME: short meaning". */
function statusText(code) {
  return native.load().aadtoken_status_str(code);
}

// Calls running on worker threads, process-wide (shutdown() refuses to run under them).
let running = 0;

/**
 * Stop the library's background work (proactive refreshes) and join its threads. Only for
 * hosts that must end without any library thread left; throws while a call of this package is
 * in progress. Clients, tokens and the cache stay valid: later network use starts it again.
 */
function shutdown() {
  if (running > 0) {
    throw new Error(`aadtoken.shutdown(): ${running} call(s) still in progress; await them first`);
  }
  native.load().aadtoken_shutdown();
}

/**
 * An aadtoken failure: `status` (the C status code, e.g. 300), `statusName`
 * ("AADTOKEN_ERR_INVALID_CLIENT"), `message` (never contains a secret), `oauthCode`
 * ("invalid_client" or ""), `aadsts` (the main AADSTS number, or 0), `aadstsCodes` (all of
 * them), `correlationId` and `traceId` (or ""), `httpStatus` and `retryAfter` (seconds; 0 when
 * absent).
 */
class AadTokenError extends Error {
  constructor(code, message, details = {}) {
    super(message);
    this.name = 'AadTokenError';
    this.status = code;
    this.statusName = statusText(code).split(':', 1)[0];
    this.oauthCode = details.oauthCode || '';
    this.aadstsCodes = details.aadstsCodes ? [...details.aadstsCodes] : [];
    this.aadsts = this.aadstsCodes.length ? this.aadstsCodes[0] : 0;
    this.correlationId = details.correlationId || '';
    this.traceId = details.traceId || '';
    this.httpStatus = details.httpStatus || 0;
    this.retryAfter = details.retryAfter || 0;
  }
}

/** Read and free a C error object; returns the AadTokenError to throw. */
function takeError(code, err) {
  const lib = native.load();
  if (!err) {
    return new AadTokenError(code, statusText(code));
  }
  try {
    const codes = [];
    for (let i = 0, n = Number(lib.aadtoken_error_aadsts_count(err)); i < n; i++) {
      codes.push(lib.aadtoken_error_aadsts_at(err, i));
    }
    const main = lib.aadtoken_error_aadsts(err);
    if (main && !codes.length) {
      codes.push(main);
    }
    return new AadTokenError(lib.aadtoken_error_status(err), lib.aadtoken_error_message(err), {
      oauthCode: lib.aadtoken_error_oauth_code(err),
      aadstsCodes: codes,
      correlationId: lib.aadtoken_error_correlation_id(err),
      traceId: lib.aadtoken_error_trace_id(err),
      httpStatus: lib.aadtoken_error_http_status(err),
      retryAfter: lib.aadtoken_error_retry_after(err),
    });
  } finally {
    lib.aadtoken_error_free(err);
  }
}

/** Call a fallible C function whose last parameter is the error out-parameter; throw on failure. */
function check(fn, ...args) {
  const err = [null];
  const code = fn(...args, err);
  if (code !== status.OK) {
    throw takeError(code, err[0]);
  }
}

/**
 * The same on a libuv worker thread: resolves when the call succeeded, rejects with an
 * AadTokenError otherwise. `args` may include out-parameters (one-element arrays), filled when it
 * resolves.
 */
function checkAsync(fn, ...args) {
  return new Promise((resolve, reject) => {
    const err = [null];
    running++;
    fn.async(...args, err, (callError, code) => {
      running--;
      if (callError) {
        reject(callError);
      } else if (code !== status.OK) {
        reject(takeError(code, err[0]));
      } else {
        resolve();
      }
    });
  });
}

/** A setting as NUL-terminated UTF-8 in a buffer the caller zeroes after the call. */
function secretBytes(text) {
  return Buffer.from(`${text}\0`, 'utf8');
}

/** Pass `bytes` (made by secretBytes) to `fn`, then zero them. */
function withWiped(bytes, fn) {
  try {
    return fn(...bytes);
  } finally {
    for (const b of bytes) {
      b.fill(0);
    }
  }
}

function settingValue(key, value) {
  if (['string', 'number', 'boolean', 'bigint'].includes(typeof value)) {
    return String(value);
  }
  throw new TypeError(`setting '${key}': expected a string, number or boolean, got ${
    value === null ? 'null' : typeof value}`);
}

/** `scopes`: undefined/null (the `scope` setting), a space-separated string, or an array of them. */
function scopesArg(scopes) {
  if (scopes === undefined || scopes === null) {
    return null;
  }
  if (typeof scopes === 'string') {
    return scopes;
  }
  if (Array.isArray(scopes) && scopes.every((s) => typeof s === 'string')) {
    return scopes.join(' ');
  }
  throw new TypeError('scopes must be a string, an array of strings, or undefined');
}

function callable(value, name) {
  if (typeof value !== 'function') {
    throw new TypeError(`${name} must be a function, not ${typeof value}`);
  }
  return value;
}

function optionalText(value, name) {
  if (value === undefined || value === null) {
    return null;
  }
  if (typeof value !== 'string') {
    throw new TypeError(`${name} must be a string or undefined, not ${typeof value}`);
  }
  return value;
}

function unixDate(seconds) {
  return new Date(Number(seconds) * 1000);
}

// Native tokens kept for Token#claims(), released when their Token is collected.
const tokenHandles = new FinalizationRegistry((handle) => native.load().aadtoken_token_free(handle));

/**
 * An access token: `token` (the JWT), `expiresOn` and `refreshOn` (Dates: the expiry, and when
 * aadtoken plans to renew it). An immutable snapshot. The token is a credential:
 * `util.inspect()` and `String()` never show it.
 */
class Token {
  #handle;

  constructor(handle) {
    const lib = native.load();
    this.#handle = handle;
    this.token = native.text(lib.aadtoken_token_value(handle), lib.aadtoken_token_len(handle));
    this.expiresOn = unixDate(lib.aadtoken_token_expires_on(handle));
    this.refreshOn = unixDate(lib.aadtoken_token_refresh_on(handle));
    Object.freeze(this);
    tokenHandles.register(this, handle);
  }

  /** Seconds left before expiry (negative once expired). */
  get expiresIn() {
    return Math.floor((this.expiresOn.getTime() - Date.now()) / 1000);
  }

  /**
   * The token's claims (its JWT payload), decoded **without checking the signature**: what the
   * token says, for people and logs. Throws an AadTokenError (status 100) for a token that is
   * not a readable JWT.
   */
  claims() {
    const lib = native.load();
    const out = [null];
    check(lib.aadtoken_token_claims, this.#handle, out);
    const c = out[0];
    try {
      const words = (text) => text.split(' ').filter(Boolean);
      return {
        aud: lib.aadtoken_claims_aud(c),
        iss: lib.aadtoken_claims_iss(c),
        tid: lib.aadtoken_claims_tid(c),
        oid: lib.aadtoken_claims_oid(c),
        upn: lib.aadtoken_claims_upn(c),
        appid: lib.aadtoken_claims_appid(c),
        roles: words(lib.aadtoken_claims_roles(c)),
        scp: words(lib.aadtoken_claims_scp(c)),
        exp: lib.aadtoken_claims_exp(c),
        iat: lib.aadtoken_claims_iat(c),
        nbf: lib.aadtoken_claims_nbf(c),
        json: lib.aadtoken_claims_json(c),
      };
    } finally {
      lib.aadtoken_claims_free(c);
    }
  }

  toString() {
    return `Token(<${this.token.length} chars, redacted>, expiresOn=${this.expiresOn.toISOString()})`;
  }

  [util.inspect.custom]() {
    return this.toString();
  }
}

/**
 * Keeps the Oracle token file (TOKEN_AUTH=OAUTH, TOKEN_LOCATION) fresh from a library thread;
 * made by Client#startTokenFileKeeper. `path` is the file, `expiresOn` the expiry of the token in
 * it, `lastError` the last failed renewal (an AadTokenError) or null. `stop()` (idempotent) stops
 * the thread and leaves the file in place.
 */
class TokenFileKeeper {
  #handle;
  #stopping = null;

  constructor(handle) {
    this.#handle = handle;
    this.path = native.load().aadtoken_token_file_keeper_path(handle);
  }

  #live() {
    if (this.#stopping) {
      throw new Error('this TokenFileKeeper is stopped');
    }
    return this.#handle;
  }

  get expiresOn() {
    return unixDate(native.load().aadtoken_token_file_keeper_expires_on(this.#live()));
  }

  get lastError() {
    const err = [null];
    const code = native.load().aadtoken_token_file_keeper_last_error(this.#live(), err);
    return code === status.OK ? null : takeError(code, err[0]);
  }

  get stopped() {
    return this.#stopping !== null;
  }

  /** Stop the keeper (joining its thread on a worker thread: a request in flight ends first). */
  stop() {
    if (!this.#stopping) {
      const fn = native.load().aadtoken_token_file_keeper_stop;
      this.#stopping = new Promise((resolve, reject) => {
        running++;
        fn.async(this.#handle, (e) => {
          running--;
          return e ? reject(e) : resolve();
        });
      });
    }
    return this.#stopping;
  }
}

/** Free a native client, then the JS callbacks registered for it (nothing can call them now). */
function freeClient({ handle, callbacks }) {
  native.load().aadtoken_client_free(handle);
  native.unregister(callbacks);
}

// Clients never closed are freed when collected (a client is referenced by its pending calls).
const clientHandles = new FinalizationRegistry(freeClient);

// The person sign-in callbacks, called from a library thread: koffi runs them on the event loop
// while that thread waits (the sign-in itself runs on a worker thread, so the loop is free).
// Nothing they throw may reach the library: a prompt that fails leaves the sign-in to expire, an
// open-URL callback that fails ends it (AADTOKEN_ERR_CALLBACK).
function deviceCodeCallback(fn) {
  return native.register((_userdata, message, userCode, verificationUri, expiresOn) => {
    try {
      Promise.resolve(fn({ message, userCode, verificationUri, expiresOn: unixDate(expiresOn) }))
        .catch(() => {});
    } catch {
      // see above
    }
  }, 'aadtoken_device_code_fn');
}

function openUrlCallback(fn) {
  return native.register((_userdata, url) => {
    try {
      return fn(url) === false ? 1 : 0;
    } catch {
      return 1;
    }
  }, 'aadtoken_open_url_fn');
}

/**
 * Tokens for one identity. Share one client per identity; any number of calls may be in flight at
 * once.
 *
 * `settings`: an object of aadtoken settings (`tenant_id`, `client_id`, `client_secret`, `scope`,
 * `authority_host`, `ca_file`, `timeout_ms`…; values may be strings, numbers or booleans) or a
 * settings string "key=value; key=value". With `{ env: true }` the Azure SDK environment variables
 * (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET…) are read first, so `settings` override
 * them. An unknown key, a bad value or a missing setting throws an AadTokenError naming it. No
 * network request is made until the first token is asked for.
 *
 * Person sign-in (`auth_method=device_code` or `interactive`): `options.deviceCodeCallback` is
 * called with `{ message, userCode, verificationUri, expiresOn }` to show the person the code (the
 * library never prints it); `options.openUrl` with the sign-in page's URL (return false or throw
 * if it could not be opened; a returned promise is not awaited; without it the system browser is
 * used). signIn() signs in explicitly; getToken() signs in by itself when no refresh token works.
 */
class Client {
  #handle = null;
  #callbacks = [];
  #inFlight = 0;
  #closed = false;
  #pending = new Map(); // kind and scopes -> the getToken/getTokenSilent promise in flight for them

  constructor(settings, options = {}) {
    const lib = native.load();
    const config = lib.aadtoken_config_new();
    try {
      if (options.deviceCodeCallback !== undefined) {
        this.#callbacks.push(deviceCodeCallback(callable(options.deviceCodeCallback, 'deviceCodeCallback')));
        check(lib.aadtoken_config_set_device_code_callback, config, this.#callbacks.at(-1), null);
      }
      if (options.openUrl !== undefined) {
        this.#callbacks.push(openUrlCallback(callable(options.openUrl, 'openUrl')));
        check(lib.aadtoken_config_set_open_url_callback, config, this.#callbacks.at(-1), null);
      }
      if (options.env) {
        check(lib.aadtoken_config_load_env, config);
      }
      if (typeof settings === 'string') {
        withWiped([secretBytes(settings)], (s) => check(lib.aadtoken_config_parse, config, s));
      } else if (settings !== undefined && settings !== null) {
        if (typeof settings !== 'object' || Array.isArray(settings)) {
          throw new TypeError('settings must be an object of aadtoken settings or a settings string');
        }
        for (const [key, value] of Object.entries(settings)) {
          withWiped([secretBytes(key), secretBytes(settingValue(key, value))],
            (k, v) => check(lib.aadtoken_config_set, config, k, v));
        }
      }
      const out = [null];
      check(lib.aadtoken_client_new, config, out);
      this.#handle = out[0];
    } finally {
      lib.aadtoken_config_free(config);
      if (!this.#handle) {
        native.unregister(this.#callbacks);
      }
    }
    clientHandles.register(this, { handle: this.#handle, callbacks: this.#callbacks }, this);
  }

  /**
   * A client from the Azure SDK environment variables, then the settings string in
   * AADTOKEN_SETTINGS when it is set (e.g. "scope=api://my-db/.default").
   */
  static fromEnvironment() {
    return new Client(process.env.AADTOKEN_SETTINGS || undefined, { env: true });
  }

  /**
   * A token for `scopes` (a space-separated string or an array; undefined = the `scope`
   * setting): the cached one while it has more than `expiry_margin_s` left, else a new one (at
   * most `timeout_ms`). Concurrent calls for the same scopes share one worker thread.
   */
  getToken(scopes) {
    return this.#shared(native.load().aadtoken_client_get_token, 'get', scopesArg(scopes));
  }

  /**
   * Always ask Entra ID for a new token and replace the cached one (for when a server rejected
   * a token before its expiry).
   */
  refreshToken(scopes) {
    return this.#call(native.load().aadtoken_client_refresh_token, scopesArg(scopes));
  }

  /**
   * Like getToken(), for a database driver's token callback: it never waits for a person. With
   * `auth_method=device_code` or `interactive` it answers from the signed-in account (the cached
   * token, or a new one through its refresh token), or rejects at once with an AadTokenError of
   * status ERR_INTERACTION_REQUIRED — no prompt, no browser, whatever `automatic_sign_in` says
   * (sign in first with signIn(), or `aadtoken login` with `cache_file`). Other credentials:
   * exactly getToken().
   */
  getTokenSilent(scopes) {
    return this.#shared(native.load().aadtoken_client_get_token_silent, 'silent', scopesArg(scopes));
  }

  /**
   * Like refreshToken() (always asks Entra ID), never waiting for a person, as getTokenSilent():
   * a person's token is refreshed through the signed-in account's refresh token, else
   * ERR_INTERACTION_REQUIRED at once.
   */
  refreshTokenSilent(scopes) {
    return this.#call(native.load().aadtoken_client_refresh_token_silent, scopesArg(scopes));
  }

  /**
   * Sign a person in now (device code or browser, per `auth_method`), even when a cached refresh
   * token would still work; resolves to a token for `scopes`. The account and its refresh token
   * are kept (in `cache_file` too), so later getToken() calls for any scope of the account are
   * silent.
   */
  signIn(scopes) {
    return this.#call(native.load().aadtoken_client_sign_in, scopesArg(scopes));
  }

  /**
   * Sign the person out: forget the signed-in account (the one `login_hint` or `account`
   * selects, else the only one) and its refresh token, in memory and in `cache_file`, and drop
   * the access tokens cached for the application. The next getToken() signs in again. Resolves
   * when nobody is signed in too.
   */
  async signOut() {
    const lib = native.load();
    await this.#using(() => checkAsync(lib.aadtoken_client_sign_out, this.#handle));
  }

  /**
   * The function node-oracledb takes as `accessToken` (with `externalAuth: true`, and
   * `homogeneous: true` for pools): `(refresh, accessTokenConfig) => Promise<string>`. The
   * driver calls it with `refresh=false` for a token (served from aadtoken's cache while valid)
   * and with `refresh=true` when the token it holds has expired (aadtoken then asks Entra ID
   * for a new one). `accessTokenConfig` is not used: the client's settings are.
   *
   * The driver calls it while it opens a connection, so it never waits for a person
   * (getTokenSilent(), refreshTokenSilent()): with person sign-in, sign in first (signIn(), or
   * `aadtoken login` with `cache_file`); until then it rejects with ERR_INTERACTION_REQUIRED.
   */
  oracledbAccessToken(scopes) {
    const key = scopesArg(scopes);
    return async (refresh) => {
      const token = refresh ? await this.refreshTokenSilent(key) : await this.getTokenSilent(key);
      return token.token;
    };
  }

  /**
   * Write a token for `scopes` to the Oracle token file once (`location`: a TOKEN_LOCATION
   * directory, whose file `token` is written, or a file path; undefined = the `token_location`
   * setting). Raw token, no newline, mode 0600, replaced atomically; a symbolic link or a
   * directory others can write is refused (status 401).
   */
  async writeTokenFile(location, scopes) {
    const lib = native.load();
    const where = optionalText(location, 'location');
    await this.#using(() => checkAsync(lib.aadtoken_client_write_token_file, this.#handle,
      scopesArg(scopes), where));
  }

  /**
   * Write the Oracle token file now and keep it fresh from a library thread (renewed ahead of
   * expiry; on failure the last good token stays and renewal is retried with backoff).
   * Resolves to a TokenFileKeeper, which outlives this client until stopped.
   */
  async startTokenFileKeeper(location, scopes) {
    const lib = native.load();
    const where = optionalText(location, 'location');
    const out = [null];
    await this.#using(() => checkAsync(lib.aadtoken_token_file_keeper_start, this.#handle,
      scopesArg(scopes), where, out));
    return new TokenFileKeeper(out[0]);
  }

  get closed() {
    return this.#closed;
  }

  /**
   * Free the native client. Idempotent. Calls in progress finish first (the client is freed
   * when the last one ends); later calls throw. Tokens already obtained stay valid; cached tokens
   * stay in the process-wide cache.
   */
  close() {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    clientHandles.unregister(this);
    this.#freeIfIdle();
  }

  toString() {
    return `Client(${this.#closed ? 'closed' : 'open'})`;
  }

  [util.inspect.custom]() {
    return this.toString();
  }

  #freeIfIdle() {
    if (this.#closed && this.#inFlight === 0 && this.#handle) {
      const handle = this.#handle;
      this.#handle = null;
      freeClient({ handle, callbacks: this.#callbacks });
    }
  }

  /** Run `start` (which makes a worker-thread call) with the native client kept alive. */
  async #using(start) {
    if (this.#closed) {
      throw new Error('this aadtoken Client is closed');
    }
    this.#inFlight++;
    try {
      return await start();
    } finally {
      this.#inFlight--;
      this.#freeIfIdle();
    }
  }

  /** `fn` for `scopes`, one worker thread for concurrent calls of the same `kind` and scopes. */
  #shared(fn, kind, key) {
    const mapKey = key === null ? kind : `${kind}\0${key}`;
    let pending = this.#pending.get(mapKey);
    if (!pending) {
      pending = this.#call(fn, key);
      this.#pending.set(mapKey, pending);
      const forget = () => this.#pending.delete(mapKey);
      pending.then(forget, forget);
    }
    return pending;
  }

  async #call(fn, scopes) {
    const out = [null];
    await this.#using(() => checkAsync(fn, this.#handle, scopes, out));
    try {
      return new Token(out[0]);
    } catch (e) {
      native.load().aadtoken_token_free(out[0]);
      throw e;
    }
  }
}

module.exports = {
  Client,
  Token,
  TokenFileKeeper,
  AadTokenError,
  status,
  version,
  statusText,
  shutdown,
};
