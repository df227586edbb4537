'use strict';
// Loading libaadtoken and declaring its C functions through koffi (prebuilt for each platform on
// npm: nothing is compiled at install).
//
// The library is found, in this order (as the Python binding finds it):
//   1. the path in the environment variable AADTOKEN_LIB;
//   2. libaadtoken.so (or .so.0) next to this file (a package that ships it);
//   3. the system's loader: libaadtoken.so.0 (the soname `make install` puts in place), then
//      libaadtoken.so.

const fs = require('node:fs');
const path = require('node:path');
const koffi = require('koffi');

// The C types, as aadtoken.h names them. Handles are opaque pointers.
koffi.alias('aadtoken_status', 'uint32_t');
for (const name of ['aadtoken_config', 'aadtoken_client', 'aadtoken_token', 'aadtoken_error',
  'aadtoken_claims', 'aadtoken_token_file_keeper']) {
  koffi.opaque(name);
}

// The person sign-in callbacks (aadtoken_device_code_fn, aadtoken_open_url_fn).
koffi.proto('void aadtoken_device_code_fn(void *userdata, const char *message, const char *user_code, '
  + 'const char *verification_uri, int64_t expires_on)');
koffi.proto('int32_t aadtoken_open_url_fn(void *userdata, const char *url)');

// Every C function the binding calls, as declared in aadtoken.h (`_Out_` marks out-parameters,
// filled in a one-element array). Settings are passed as NUL-terminated bytes (`const uint8_t *`)
// so that the binding can zero its copy of a secret after the call.
const PROTOTYPES = [
  'const char *aadtoken_version(void)',
  'const char *aadtoken_status_str(aadtoken_status status)',
  'aadtoken_config *aadtoken_config_new(void)',
  'aadtoken_status aadtoken_config_set(aadtoken_config *config, const uint8_t *key, const uint8_t *value, _Out_ aadtoken_error **err)',
  'aadtoken_status aadtoken_config_parse(aadtoken_config *config, const uint8_t *settings, _Out_ aadtoken_error **err)',
  'aadtoken_status aadtoken_config_load_env(aadtoken_config *config, _Out_ aadtoken_error **err)',
  'void aadtoken_config_free(aadtoken_config *config)',
  'aadtoken_status aadtoken_client_new(const aadtoken_config *config, _Out_ aadtoken_client **out, _Out_ aadtoken_error **err)',
  'aadtoken_status aadtoken_client_get_token(const aadtoken_client *client, const char *scopes, _Out_ aadtoken_token **out, _Out_ aadtoken_error **err)',
  'aadtoken_status aadtoken_client_refresh_token(const aadtoken_client *client, const char *scopes, _Out_ aadtoken_token **out, _Out_ aadtoken_error **err)',
  'aadtoken_status aadtoken_client_get_token_silent(const aadtoken_client *client, const char *scopes, _Out_ aadtoken_token **out, _Out_ aadtoken_error **err)',
  'aadtoken_status aadtoken_client_refresh_token_silent(const aadtoken_client *client, const char *scopes, _Out_ aadtoken_token **out, _Out_ aadtoken_error **err)',
  'void aadtoken_client_free(aadtoken_client *client)',
  'void aadtoken_shutdown(void)',
  'const void *aadtoken_token_value(const aadtoken_token *t)',
  'size_t aadtoken_token_len(const aadtoken_token *t)',
  'int64_t aadtoken_token_expires_on(const aadtoken_token *t)',
  'int64_t aadtoken_token_refresh_on(const aadtoken_token *t)',
  'void aadtoken_token_free(aadtoken_token *t)',
  'aadtoken_status aadtoken_error_status(const aadtoken_error *e)',
  'const char *aadtoken_error_message(const aadtoken_error *e)',
  'const char *aadtoken_error_oauth_code(const aadtoken_error *e)',
  'uint32_t aadtoken_error_aadsts(const aadtoken_error *e)',
  'size_t aadtoken_error_aadsts_count(const aadtoken_error *e)',
  'uint32_t aadtoken_error_aadsts_at(const aadtoken_error *e, size_t index)',
  'const char *aadtoken_error_correlation_id(const aadtoken_error *e)',
  'const char *aadtoken_error_trace_id(const aadtoken_error *e)',
  'uint32_t aadtoken_error_http_status(const aadtoken_error *e)',
  'uint32_t aadtoken_error_retry_after(const aadtoken_error *e)',
  'void aadtoken_error_free(aadtoken_error *e)',
  'aadtoken_status aadtoken_token_claims(const aadtoken_token *t, _Out_ aadtoken_claims **out, _Out_ aadtoken_error **err)',
  'const char *aadtoken_claims_json(const aadtoken_claims *c)',
  'const char *aadtoken_claims_aud(const aadtoken_claims *c)',
  'const char *aadtoken_claims_iss(const aadtoken_claims *c)',
  'const char *aadtoken_claims_tid(const aadtoken_claims *c)',
  'const char *aadtoken_claims_oid(const aadtoken_claims *c)',
  'const char *aadtoken_claims_upn(const aadtoken_claims *c)',
  'const char *aadtoken_claims_appid(const aadtoken_claims *c)',
  'const char *aadtoken_claims_roles(const aadtoken_claims *c)',
  'const char *aadtoken_claims_scp(const aadtoken_claims *c)',
  'int64_t aadtoken_claims_exp(const aadtoken_claims *c)',
  'int64_t aadtoken_claims_iat(const aadtoken_claims *c)',
  'int64_t aadtoken_claims_nbf(const aadtoken_claims *c)',
  'void aadtoken_claims_free(aadtoken_claims *c)',
  'aadtoken_status aadtoken_client_write_token_file(const aadtoken_client *client, const char *scopes, const char *location, _Out_ aadtoken_error **err)',
  'aadtoken_status aadtoken_config_set_device_code_callback(aadtoken_config *config, aadtoken_device_code_fn *callback, void *userdata, _Out_ aadtoken_error **err)',
  'aadtoken_status aadtoken_config_set_open_url_callback(aadtoken_config *config, aadtoken_open_url_fn *callback, void *userdata, _Out_ aadtoken_error **err)',
  'aadtoken_status aadtoken_client_sign_in(const aadtoken_client *client, const char *scopes, _Out_ aadtoken_token **out, _Out_ aadtoken_error **err)',
  'aadtoken_status aadtoken_client_sign_out(const aadtoken_client *client, _Out_ aadtoken_error **err)',
  'aadtoken_status aadtoken_token_file_keeper_start(const aadtoken_client *client, const char *scopes, const char *location, _Out_ aadtoken_token_file_keeper **out, _Out_ aadtoken_error **err)',
  'aadtoken_status aadtoken_token_file_keeper_last_error(const aadtoken_token_file_keeper *keeper, _Out_ aadtoken_error **err)',
  'const char *aadtoken_token_file_keeper_path(const aadtoken_token_file_keeper *keeper)',
  'int64_t aadtoken_token_file_keeper_expires_on(const aadtoken_token_file_keeper *keeper)',
  'void aadtoken_token_file_keeper_stop(aadtoken_token_file_keeper *keeper)',
];

function candidates() {
  if (process.env.AADTOKEN_LIB) {
    return [process.env.AADTOKEN_LIB];
  }
  const names = process.platform === 'darwin'
    ? ['libaadtoken.dylib', 'libaadtoken.0.dylib']
    : ['libaadtoken.so', 'libaadtoken.so.0'];
  const here = names.map((name) => path.join(__dirname, name)).filter((p) => fs.existsSync(p));
  return [...here, names[1], names[0]];
}

// koffi runs `fn.async` calls on libuv's worker threads, on a stack of its own whose default
// (128 KiB) is too small for a token request (a debug build overflowed 256 KiB). 2 MiB is Rust's own
// default thread stack, and koffi's for synchronous calls; the pages are reserved, not
// committed. koffi accepts a new size only before the process's first koffi.load().
const ASYNC_STACK = 2 * 1024 * 1024;

// Done when this module is required (the earlier the better); a failure is reported by load().
function configureKoffi() {
  const config = koffi.config();
  if (config.async_stack_size >= ASYNC_STACK) {
    return null;
  }
  try {
    koffi.config({ ...config, async_stack_size: ASYNC_STACK });
    return null;
  } catch (e) {
    return (`aadtoken needs koffi's async_stack_size to be at least ${ASYNC_STACK} bytes, `
      + `but it is ${config.async_stack_size} and can no longer be changed (${e.message}): `
      + "require('aadtoken') before any other package loads a library through koffi, or call "
      + `koffi.config({ async_stack_size: ${ASYNC_STACK} }) first`);
  }
}
const koffiProblem = configureKoffi();

let lib = null;

/** The loaded library: an object of the declared functions by C name. Loaded on first use. */
function load() {
  if (lib) {
    return lib;
  }
  if (koffiProblem) {
    throw new Error(koffiProblem);
  }
  const tried = [];
  let handle = null;
  for (const candidate of candidates()) {
    try {
      handle = koffi.load(candidate);
      break;
    } catch (e) {
      tried.push(`${candidate}: ${e.message}`);
    }
  }
  if (!handle) {
    throw new Error('libaadtoken not found; set AADTOKEN_LIB to its path, or install it (make install) '
      + `so the loader finds libaadtoken.so.0. Tried: ${tried.join('; ')}`);
  }
  const functions = {};
  for (const prototype of PROTOTYPES) {
    const name = prototype.match(/(aadtoken_[a-z_]+)\(/)[1];
    try {
      functions[name] = handle.func(prototype);
    } catch (e) {
      // A library older than this package lacks the newer functions: those throw when used,
      // the rest works.
      functions[name] = () => {
        throw new Error(`${name} is not in the loaded libaadtoken (${e.message})`);
      };
      functions[name].async = functions[name];
    }
  }
  lib = functions;
  return lib;
}

/** `length` bytes at `pointer` (from the library) as a string. */
function text(pointer, length) {
  return koffi.decode(pointer, 'char', Number(length));
}

/** Make a JS function callable from C as `type` (a pointer to a prototype above). */
function register(fn, type) {
  return koffi.register(fn, koffi.pointer(type));
}

/** Release what register() made, once no C code can call it any more. */
function unregister(callbacks) {
  for (const cb of callbacks) {
    koffi.unregister(cb);
  }
}

module.exports = { load, text, register, unregister };
