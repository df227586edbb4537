"""Loading libaadtoken and declaring its C functions (ctypes, standard library only).

The library is found, in this order:

1. the path in the environment variable ``AADTOKEN_LIB``;
2. the library inside this package: ``libaadtoken.abi3.so`` as ``pip install ./bindings/python``
   builds it (any of Python's extension-module suffixes), or ``libaadtoken.so`` / ``.so.0`` put
   there by hand;
3. the system's loader: ``libaadtoken.so.0`` (the soname ``make install`` puts in place), then
   whatever ``ctypes.util.find_library("aadtoken")`` finds.
"""

import ctypes
import ctypes.util
import importlib.machinery
import os
import threading

c_status = ctypes.c_uint32
c_handle = ctypes.c_void_p
c_err_out = ctypes.POINTER(ctypes.c_void_p)

# aadtoken_device_code_fn and aadtoken_open_url_fn (person sign-in callbacks).
DEVICE_CODE_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                  ctypes.c_char_p, ctypes.c_int64)
OPEN_URL_FN = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_char_p)

# name: (restype, argtypes). Every C function the wrapper calls, as declared in aadtoken.h.
PROTOTYPES = {
    "aadtoken_version": (ctypes.c_char_p, []),
    "aadtoken_status_str": (ctypes.c_char_p, [c_status]),
    "aadtoken_config_new": (c_handle, []),
    "aadtoken_config_set": (c_status, [c_handle, ctypes.c_char_p, ctypes.c_char_p, c_err_out]),
    "aadtoken_config_parse": (c_status, [c_handle, ctypes.c_char_p, c_err_out]),
    "aadtoken_config_load_env": (c_status, [c_handle, c_err_out]),
    "aadtoken_config_free": (None, [c_handle]),
    "aadtoken_client_new": (c_status, [c_handle, ctypes.POINTER(c_handle), c_err_out]),
    "aadtoken_client_get_token": (
        c_status, [c_handle, ctypes.c_char_p, ctypes.POINTER(c_handle), c_err_out]),
    "aadtoken_client_refresh_token": (
        c_status, [c_handle, ctypes.c_char_p, ctypes.POINTER(c_handle), c_err_out]),
    "aadtoken_client_get_token_silent": (
        c_status, [c_handle, ctypes.c_char_p, ctypes.POINTER(c_handle), c_err_out]),
    "aadtoken_client_refresh_token_silent": (
        c_status, [c_handle, ctypes.c_char_p, ctypes.POINTER(c_handle), c_err_out]),
    "aadtoken_client_free": (None, [c_handle]),
    "aadtoken_token_value": (ctypes.c_void_p, [c_handle]),
    "aadtoken_token_len": (ctypes.c_size_t, [c_handle]),
    "aadtoken_token_expires_on": (ctypes.c_int64, [c_handle]),
    "aadtoken_token_refresh_on": (ctypes.c_int64, [c_handle]),
    "aadtoken_token_free": (None, [c_handle]),
    "aadtoken_error_status": (c_status, [c_handle]),
    "aadtoken_error_message": (ctypes.c_char_p, [c_handle]),
    "aadtoken_error_oauth_code": (ctypes.c_char_p, [c_handle]),
    "aadtoken_error_aadsts": (ctypes.c_uint32, [c_handle]),
    "aadtoken_error_aadsts_count": (ctypes.c_size_t, [c_handle]),
    "aadtoken_error_aadsts_at": (ctypes.c_uint32, [c_handle, ctypes.c_size_t]),
    "aadtoken_error_correlation_id": (ctypes.c_char_p, [c_handle]),
    "aadtoken_error_trace_id": (ctypes.c_char_p, [c_handle]),
    "aadtoken_error_http_status": (ctypes.c_uint32, [c_handle]),
    "aadtoken_error_retry_after": (ctypes.c_uint32, [c_handle]),
    "aadtoken_error_free": (None, [c_handle]),
    "aadtoken_shutdown": (None, []),
    "aadtoken_token_claims": (c_status, [c_handle, ctypes.POINTER(c_handle), c_err_out]),
    # The claims object's accessors share two prototypes: a string borrowed from the object,
    # or a Unix time.
    **dict.fromkeys(["aadtoken_claims_json", "aadtoken_claims_aud", "aadtoken_claims_iss",
                     "aadtoken_claims_tid", "aadtoken_claims_oid", "aadtoken_claims_upn",
                     "aadtoken_claims_appid", "aadtoken_claims_roles", "aadtoken_claims_scp"],
                    (ctypes.c_char_p, [c_handle])),
    **dict.fromkeys(["aadtoken_claims_exp", "aadtoken_claims_iat", "aadtoken_claims_nbf"],
                    (ctypes.c_int64, [c_handle])),
    "aadtoken_claims_free": (None, [c_handle]),
    "aadtoken_client_write_token_file": (
        c_status, [c_handle, ctypes.c_char_p, ctypes.c_char_p, c_err_out]),
    "aadtoken_token_file_keeper_start": (
        c_status, [c_handle, ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(c_handle), c_err_out]),
    "aadtoken_token_file_keeper_last_error": (c_status, [c_handle, c_err_out]),
    "aadtoken_token_file_keeper_path": (ctypes.c_char_p, [c_handle]),
    "aadtoken_token_file_keeper_expires_on": (ctypes.c_int64, [c_handle]),
    "aadtoken_token_file_keeper_stop": (None, [c_handle]),
    "aadtoken_config_set_device_code_callback": (
        c_status, [c_handle, DEVICE_CODE_FN, ctypes.c_void_p, c_err_out]),
    "aadtoken_config_set_open_url_callback": (
        c_status, [c_handle, OPEN_URL_FN, ctypes.c_void_p, c_err_out]),
    "aadtoken_client_sign_in": (
        c_status, [c_handle, ctypes.c_char_p, ctypes.POINTER(c_handle), c_err_out]),
    "aadtoken_client_sign_out": (c_status, [c_handle, c_err_out]),
}

_lock = threading.Lock()
_lib = None


def _candidates():
    path = os.environ.get("AADTOKEN_LIB")
    if path:
        return [path]
    here = os.path.dirname(os.path.abspath(__file__))
    names = ["libaadtoken" + suffix for suffix in importlib.machinery.EXTENSION_SUFFIXES]
    names = dict.fromkeys([*names, "libaadtoken.so", "libaadtoken.so.0"])  # in order, once each
    found = [os.path.join(here, name) for name in names]
    found = [p for p in found if os.path.exists(p)]
    found.append("libaadtoken.so.0")
    system = ctypes.util.find_library("aadtoken")
    if system:
        found.append(system)
    return found


def lib():
    """The loaded library, with every prototype declared. Loaded once, on first use."""
    global _lib
    with _lock:
        if _lib is None:
            errors = []
            for path in _candidates():
                try:
                    loaded = ctypes.CDLL(path)
                    break
                except OSError as e:
                    errors.append(f"{path}: {e}")
            else:
                raise OSError(
                    "libaadtoken not found; set AADTOKEN_LIB to its path, or install it "
                    "(make install) so the loader finds libaadtoken.so.0. Tried: "
                    + "; ".join(errors))
            for name, (restype, argtypes) in PROTOTYPES.items():
                # A library older than this package lacks the newer functions: those raise
                # AttributeError when used, the rest works.
                fn = getattr(loaded, name, None)
                if fn is None:
                    continue
                fn.restype = restype
                fn.argtypes = argtypes
            _lib = loaded
        return _lib
