//! The two shapes most exports have, each written once: fallible functions ([`fallible!`]) and
//! infallible accessors ([`getters!`]).
//!
//! Writing every export out in full repeated the same signature lines (the `err` parameter, the
//! status result, the panic guard) in some forty places; these macros state them once, and an
//! export is declared by its name, its own arguments and its body. (rustls-ffi writes its
//! exports out so that cbindgen can read them without expanding macros. aadtoken's header is
//! generated from the crate as the compiler expands it instead, as hyper's is: see
//! `scripts/gen-header.sh`. The library itself builds with the stable compiler.)
//!
//! `_free` functions, the version and status texts, and exports with a shape of their own
//! (the ODPI-C callback, logging) are written out.

/// Declare fallible exports. Each
///
/// ```text
/// /// docs
/// fn aadtoken_x(a: A, b: B) { body }
/// ```
///
/// becomes `#[no_mangle] pub unsafe extern "C" fn aadtoken_x(a: A, b: B, err: *mut *mut
/// aadtoken_error) -> aadtoken_status`, whose `body` (a block giving `Result<(), Error>`, where
/// `?` and `return Err(..)` end the call) runs inside [`call`](super::call): a panic is caught,
/// an error becomes its status and, when `err` is not NULL, an error object in `*err`. Out-
/// parameters are written only at the end of a successful body (see `handle::out`).
///
/// Every pointer argument is NULL or valid as the export's header comment says: that contract,
/// stated to the host, is what the body's unsafe reads rely on.
macro_rules! fallible {
    ($(
        $(#[$attr:meta])*
        fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block
    )+) => {$(
        $(#[$attr])*
        #[no_mangle]
        pub unsafe extern "C" fn $name(
            $($arg: $ty,)*
            err: *mut *mut $crate::ffi::aadtoken_error,
        ) -> $crate::ffi::aadtoken_status {
            $crate::ffi::call(err, || $body)
        }
    )+};
}
pub(crate) use fallible;

/// Declare infallible accessors of a handle. Each
///
/// ```text
/// /// docs
/// fn aadtoken_x_y(h: *const aadtoken_x) -> R = |o| expression, else fallback;
/// ```
///
/// becomes `#[no_mangle] pub extern "C" fn aadtoken_x_y(h: *const aadtoken_x) -> R` giving the
/// expression over the value behind `h` (`o`), and `fallback` when `h` is NULL or the expression
/// panics ([`handle::read`](super::handle::read)). Arguments after `h` are passed as they are.
macro_rules! getters {
    ($(
        $(#[$attr:meta])*
        fn $name:ident($h:ident: $hty:ty $(, $arg:ident: $aty:ty)*) -> $ret:ty =
            |$o:ident| $value:expr, else $fallback:expr;
    )+) => {$(
        $(#[$attr])*
        #[no_mangle]
        pub extern "C" fn $name($h: $hty $(, $arg: $aty)*) -> $ret {
            $crate::ffi::handle::read($h, $fallback, |$o| $value)
        }
    )+};
}
pub(crate) use getters;

/// Declare exports that hand out a token for `scopes` (`aadtoken_client_get_token`,
/// `aadtoken_client_refresh_token`, their `_silent` twins, `aadtoken_client_sign_in`): each `fn aadtoken_x =>
/// Client::method;` becomes the fallible export `aadtoken_x(client, scopes, out, err)`, which
/// writes the token `Client::method` gives for `scopes` (NULL = the `scope` setting) to `*out`.
macro_rules! token_exports {
    ($(
        $(#[$attr:meta])*
        fn $name:ident => $get:path;
    )+) => {
        $crate::ffi::export::fallible! {$(
            $(#[$attr])*
            fn $name(
                client: *const $crate::ffi::client::aadtoken_client,
                scopes: *const std::ffi::c_char,
                out: *mut *mut $crate::ffi::token::aadtoken_token,
            ) {
                let client = $crate::ffi::handle::get(client, "client")?;
                let scopes = $crate::ffi::opt_str(scopes, "scopes")?;
                let out = $crate::ffi::handle::out(out, "out")?;
                out.write($crate::ffi::handle::into_raw($get(client, scopes)?));
                Ok(())
            }
        )+}
    };
}
pub(crate) use token_exports;

/// Declare exports that set a host callback on a config: each `fn aadtoken_config_set_x_callback
/// (aadtoken_x_fn) => Wrapper, Config::setter;` becomes the fallible export
/// `aadtoken_config_set_x_callback(config, callback, userdata, err)`, which gives
/// `Config::setter` the host's callback and `userdata` in a `Wrapper { callback, userdata }` (the
/// type implementing core's trait for it), or `None` when `callback` is NULL. NULL `config` →
/// `AADTOKEN_ERR_INVALID_ARGUMENT`.
macro_rules! callback_setters {
    ($(
        $(#[$attr:meta])*
        fn $name:ident($fn_type:ty) => $wrapper:ident, $setter:path;
    )+) => {
        $crate::ffi::export::fallible! {$(
            $(#[$attr])*
            fn $name(
                config: *mut $crate::ffi::config::aadtoken_config,
                callback: $fn_type,
                userdata: *mut std::ffi::c_void,
            ) {
                let config = $crate::ffi::handle::get_mut(config, "config")?;
                let userdata = $crate::ffi::handle::UserData::new(userdata);
                let wrap = |callback| std::sync::Arc::new($wrapper { callback, userdata }) as _;
                $setter(config, callback.map(wrap));
                Ok(())
            }
        )+}
    };
}
pub(crate) use callback_setters;
