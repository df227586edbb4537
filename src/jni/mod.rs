//! The JNI exports behind the Java binding (`bindings/java`, package `aadtoken`): the native
//! methods of the package-private class `aadtoken.Native`. Like `src/ffi`, a translation layer
//! with no behaviour of its own; it calls [`aadtoken_core`] directly (not the C ABI).
//!
//! Every export runs its body inside [`guarded`](crate::ffi::guarded) (a panic becomes an
//! `AADTOKEN_ERR_INTERNAL` error), and every failure becomes a Java exception plus a default
//! return value — never an unwind into the JVM:
//! * a core [`Error`] → `aadtoken.AadTokenException` with the same status number as the C ABI
//!   (`ffi::status_of`), the message, OAuth code, AADSTS codes, correlation and trace ids;
//! * a JNI call that failed because a Java exception is pending (e.g. `OutOfMemoryError`) →
//!   that exception, untouched;
//! * any other JNI failure → `AadTokenException` with `AADTOKEN_ERR_INTERNAL`.
//!
//! A client travels to Java as a `long` handle: an `aadtoken_client*` (the C ABI's typed handle,
//! a `Box<Client>`) as a number. The Java class guarantees that
//! a handle is used only between `clientNew` and `clientFree` (a read-write lock: calls hold the
//! read side, `close()` swaps the handle to 0 under the write side before freeing it).

use std::ffi::CStr;
use std::sync::{Arc, PoisonError, RwLock};

use ::jni::objects::{
    GlobalRef, JCharArray, JClass, JMethodID, JObject, JObjectArray, JString, JValue, ReleaseMode, WeakRef,
};
use ::jni::sys::{jboolean, jint, jlong, jobject, jstring, JNI_FALSE};
use ::jni::{JNIEnv, JavaVM};
use zeroize::Zeroizing;

use crate::ffi::client::aadtoken_client;
use crate::ffi::handle;
use crate::ffi::{guarded, status_of};
use aadtoken_core::config::{DeviceCodePrompt, UrlOpener};
use aadtoken_core::{Claims, Client, Config, Error, ErrorKind, Token};

const EXCEPTION_CLASS: &str = "aadtoken/AadTokenException";
/// `AadTokenException(int status, String message, String oauthCode, int[] aadsts,
/// String correlationId, String traceId, int httpStatus, int retryAfterSeconds)`
const EXCEPTION_CTOR: &str =
    "(ILjava/lang/String;Ljava/lang/String;[ILjava/lang/String;Ljava/lang/String;II)V";
const TOKEN_CLASS: &str = "aadtoken/Token";
/// `Token(char[] chars, long expiresOn, long refreshOn)`
const TOKEN_CTOR: &str = "([CJJ)V";

/// Why an export failed.
enum Failure {
    Core(Error),
    Jni(::jni::errors::Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Core(e)
    }
}

impl From<::jni::errors::Error> for Failure {
    fn from(e: ::jni::errors::Error) -> Self {
        Failure::Jni(e)
    }
}

type Outcome<T> = Result<T, Failure>;

/// What an export returns when it fails: the JVM ignores the value, as an exception is pending.
trait OnFailure {
    const VALUE: Self;
}

impl OnFailure for () {
    const VALUE: Self = ();
}

impl OnFailure for jlong {
    const VALUE: Self = 0;
}

impl OnFailure for jobject {
    const VALUE: Self = std::ptr::null_mut();
}

/// Run an export's body; on failure leave a Java exception pending and return
/// [`OnFailure::VALUE`].
fn run<'local, T: OnFailure>(
    env: &mut JNIEnv<'local>,
    body: impl FnOnce(&mut JNIEnv<'local>) -> Outcome<T>,
) -> T {
    match guarded(|| body(env)) {
        Ok(value) => value,
        Err(failure) => {
            // A pending exception (thrown by a JNI call we made) is the better report.
            if !env.exception_check().unwrap_or(true) {
                let error = match failure {
                    Failure::Core(e) => e,
                    Failure::Jni(e) => Error::internal(format!("JNI call failed in aadtoken: {e}")),
                };
                throw(env, &error);
            }
            T::VALUE
        }
    }
}

/// Declare the exports (the native methods of `aadtoken.Native`). Each
///
/// ```text
/// /// docs
/// fn Java_aadtoken_Native_x<'local>(env, a: A) -> R { body }
/// ```
///
/// becomes `#[no_mangle] pub extern "system" fn Java_aadtoken_Native_x<'local>(mut env:
/// JNIEnv<'local>, _class: JClass<'local>, a: A) -> R`, whose `body` (giving `Outcome<R>`, with
/// the `JNIEnv` bound to the first pattern, `env` or `_`) runs inside [`run`]. (The JVM finds
/// these by their symbol names; no header is generated for them.)
macro_rules! jni_exports {
    ($(
        $(#[$attr:meta])*
        fn $name:ident<$l:lifetime>($env:pat $(, $arg:ident: $ty:ty)* $(,)?) $(-> $ret:ty)? $body:block
    )+) => {$(
        $(#[$attr])*
        #[no_mangle]
        pub extern "system" fn $name<$l>(
            mut env: JNIEnv<$l>,
            _class: JClass<$l>,
            $($arg: $ty,)*
        ) $(-> $ret)? {
            run(&mut env, |$env: &mut JNIEnv<$l>| $body)
        }
    )+};
}

/// Throw `error` as an `AadTokenException`; if even that fails, as a `RuntimeException`.
fn throw(env: &mut JNIEnv<'_>, error: &Error) {
    if let Err(e) = new_exception(env, error).and_then(|ex| env.throw(ex)) {
        if !env.exception_check().unwrap_or(true) {
            let _ = env.throw_new(
                "java/lang/RuntimeException",
                format!("aadtoken: {error} (and the AadTokenException could not be made: {e})"),
            );
        }
    }
}

fn new_exception<'local>(
    env: &mut JNIEnv<'local>,
    error: &Error,
) -> ::jni::errors::Result<::jni::objects::JThrowable<'local>> {
    let status = status_of(error.kind());
    let message = env.new_string(error.to_string())?;
    let oauth = env.new_string(error.oauth_error().unwrap_or(""))?;
    let codes: Vec<jint> = error.aadsts().iter().map(|&c| c as jint).collect();
    let aadsts = env.new_int_array(codes.len() as i32)?;
    env.set_int_array_region(&aadsts, 0, &codes)?;
    let correlation = env.new_string(error.correlation_id().unwrap_or(""))?;
    let trace = env.new_string(error.trace_id().unwrap_or(""))?;
    let http_status = error.http_status().map_or(0, jint::from);
    let retry_after = error
        .retry_after()
        .map_or(0, |d| d.as_secs().min(i32::MAX as u64) as jint);
    let obj = env.new_object(
        EXCEPTION_CLASS,
        EXCEPTION_CTOR,
        &[
            JValue::Int(status as jint),
            JValue::Object(&message),
            JValue::Object(&oauth),
            JValue::Object(&aadsts),
            JValue::Object(&correlation),
            JValue::Object(&trace),
            JValue::Int(http_status),
            JValue::Int(retry_after),
        ],
    )?;
    Ok(obj.into())
}

/// A Java string argument; `None` for a Java `null`. Kept in memory that is zeroed on drop
/// (settings strings may hold a secret).
fn opt_string(env: &mut JNIEnv<'_>, s: &JString<'_>) -> Outcome<Option<Zeroizing<String>>> {
    if s.is_null() {
        return Ok(None);
    }
    let text: String = env.get_string(s)?.into();
    Ok(Some(Zeroizing::new(text)))
}

fn arg_string(env: &mut JNIEnv<'_>, s: &JString<'_>, name: &str) -> Outcome<Zeroizing<String>> {
    not_null(s, name)?;
    Ok(opt_string(env, s)?.unwrap_or_default())
}

/// A required object argument: a Java `null` is an `AADTOKEN_ERR_INVALID_ARGUMENT` naming it.
fn not_null(obj: &JObject<'_>, name: &str) -> Result<(), Error> {
    if obj.is_null() {
        return Err(Error::invalid_argument(name, "must not be null"));
    }
    Ok(())
}

/// The client behind a handle.
///
/// # Safety
/// `handle` is 0 or a value returned by `clientNew` and not yet passed to `clientFree` (the
/// Java class guarantees this; see the module comment).
unsafe fn client<'a>(handle: jlong) -> Result<&'a Client, Error> {
    if handle == 0 {
        return Err(Error::invalid_argument("handle", "is 0 (the client is closed)"));
    }
    handle::get(handle::from_jlong::<aadtoken_client>(handle), "handle")
}

/// The `aadtoken.Token` class and its constructor, looked up once instead of on every token
/// handed out. The class is held by a weak reference, so that the cache never keeps the class
/// (and its class loader, and so this library) loaded; while the reference upgrades, the class
/// is loaded and its constructor ID valid. When it no longer does (the class loader went away
/// and a new one loaded the classes again), the class is looked up anew, as before, through the
/// class loader of the calling native method.
static TOKEN_CLASS_CACHE: RwLock<Option<TokenClass>> = RwLock::new(None);

struct TokenClass {
    class: WeakRef,
    ctor: JMethodID,
}

/// The `aadtoken.Token` class (a local reference) and its `Token(char[], long, long)` constructor.
fn token_class<'local>(env: &mut JNIEnv<'local>) -> Outcome<(JClass<'local>, JMethodID)> {
    if let Some(cached) = TOKEN_CLASS_CACHE
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
    {
        if let Some(class) = cached.class.upgrade_local(env)? {
            return Ok((JClass::from(class), cached.ctor));
        }
    }
    let class = env.find_class(TOKEN_CLASS)?;
    let ctor = env.get_method_id(&class, "<init>", TOKEN_CTOR)?;
    let weak = env
        .new_weak_ref(&class)?
        .ok_or_else(|| Error::internal("FindClass gave a null class".to_string()))?;
    *TOKEN_CLASS_CACHE.write().unwrap_or_else(PoisonError::into_inner) =
        Some(TokenClass { class: weak, ctor });
    Ok((class, ctor))
}

fn new_token<'local>(env: &mut JNIEnv<'local>, token: &Token) -> Outcome<JObject<'local>> {
    let secret = token.secret();
    // A JWT is ASCII: one UTF-16 code unit per byte (the general encoding otherwise).
    let array = if secret.is_ascii() {
        new_char_array(env, secret.len(), |chars| widen(secret.as_bytes(), chars))?
    } else {
        new_char_array(env, secret.encode_utf16().count(), |chars| {
            for (c, unit) in chars.iter_mut().zip(secret.encode_utf16()) {
                *c = unit;
            }
        })?
    };
    let (class, ctor) = token_class(env)?;
    let args = [
        JValue::Object(&array).as_jni(),
        JValue::Long(token.expires_on()).as_jni(),
        JValue::Long(token.refresh_on()).as_jni(),
    ];
    // SAFETY: `ctor` is the ID of `Token(char[] chars, long expiresOn, long refreshOn)` in
    // `class` (looked up with TOKEN_CTOR, and `class` is alive: it is a local reference), and
    // `args` are a char[], a long and a long.
    Ok(unsafe { env.new_object_unchecked(&class, ctor, &args) }?)
}

/// ASCII `bytes` as UTF-16 code units into `chars` (as long), eight at a time: the release build
/// is optimized for size, which leaves a plain loop unvectorized, but not this one.
fn widen(bytes: &[u8], chars: &mut [u16]) {
    let mut wide = chars.chunks_exact_mut(8);
    let mut narrow = bytes.chunks_exact(8);
    for (c, b) in (&mut wide).zip(&mut narrow) {
        for i in 0..8 {
            c[i] = u16::from(b[i]);
        }
    }
    for (c, &b) in wide.into_remainder().iter_mut().zip(narrow.remainder()) {
        *c = u16::from(b);
    }
}

/// A new `char[]` of `len` UTF-16 code units, written by `fill` straight into the Java array (no
/// copy of the token in native memory).
fn new_char_array<'local>(
    env: &mut JNIEnv<'local>,
    len: usize,
    fill: impl FnOnce(&mut [u16]),
) -> Outcome<JCharArray<'local>> {
    let len =
        i32::try_from(len).map_err(|_| Error::new(ErrorKind::BadResponse, "the access token is too long"))?;
    let array = env.new_char_array(len)?;
    // SAFETY: a critical section over a new array no other code can see yet (no data race, no
    // other view of its elements); the elements borrow `env` mutably, so no JNI call can happen
    // before they are released; `fill` only writes memory.
    let mut chars = unsafe { env.get_array_elements_critical(&array, ReleaseMode::CopyBack) }?;
    fill(&mut chars);
    drop(chars);
    Ok(array)
}

/// The person sign-in callbacks of a client: a global reference to its `aadtoken.SignInCallbacks`
/// object, called back from the library thread that runs the sign-in (attached to the JVM for
/// the call, detached after it unless it was a Java thread already). The Java methods catch
/// what the host's lambdas throw; an exception still pending after the call (e.g. an
/// `OutOfMemoryError`) is cleared, so nothing is left on a native thread.
struct JavaSignIn {
    vm: JavaVM,
    callbacks: GlobalRef,
}

/// `void SignInCallbacks.deviceCode(String message, String userCode, String verificationUri, long expiresOn)`
const DEVICE_CODE_SIG: &str = "(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;J)V";
/// `boolean SignInCallbacks.openUrl(String url)`
const OPEN_URL_SIG: &str = "(Ljava/lang/String;)Z";

impl JavaSignIn {
    fn new(env: &mut JNIEnv<'_>, callbacks: &JObject<'_>) -> Outcome<Option<Arc<Self>>> {
        if callbacks.is_null() {
            return Ok(None);
        }
        Ok(Some(Arc::new(JavaSignIn {
            vm: env.get_java_vm()?,
            callbacks: env.new_global_ref(callbacks)?,
        })))
    }

    /// Run `call` on this thread's JNIEnv, inside a local frame.
    fn upcall<T>(
        &self,
        what: &str,
        call: impl FnOnce(&mut JNIEnv<'_>, &JObject<'_>) -> ::jni::errors::Result<T>,
    ) -> Result<T, Error> {
        let failed = |e: ::jni::errors::Error| {
            Error::new(
                ErrorKind::Callback,
                format!("the Java {what} callback failed: {e}"),
            )
        };
        let mut env = self.vm.attach_current_thread().map_err(failed)?;
        let out = env.with_local_frame(8, |env| call(env, self.callbacks.as_obj()));
        if env.exception_check().unwrap_or(false) {
            let _ = env.exception_clear();
        }
        out.map_err(failed)
    }
}

impl DeviceCodePrompt for JavaSignIn {
    fn prompt(&self, message: &str, user_code: &str, verification_uri: &str, expires_on: i64) {
        // The trait has no way to fail the sign-in: a failed upcall leaves the code unseen.
        let _ = self.upcall("device-code prompt", |env, obj| {
            let message = JObject::from(env.new_string(message)?);
            let user_code = JObject::from(env.new_string(user_code)?);
            let uri = JObject::from(env.new_string(verification_uri)?);
            let args = [
                JValue::Object(&message),
                JValue::Object(&user_code),
                JValue::Object(&uri),
                JValue::Long(expires_on),
            ];
            env.call_method(obj, "deviceCode", DEVICE_CODE_SIG, &args)?;
            Ok(())
        });
    }
}

impl UrlOpener for JavaSignIn {
    fn open(&self, url: &str) -> Result<(), Error> {
        let opened = self.upcall("open-URL", |env, obj| {
            let url = JObject::from(env.new_string(url)?);
            env.call_method(obj, "openUrl", OPEN_URL_SIG, &[JValue::Object(&url)])?
                .z()
        })?;
        if opened {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::Callback,
                "the Java openUrl callback could not open the sign-in page (it returned false or threw)",
            ))
        }
    }
}

jni_exports! {
    /// `static native long clientNew(String[] steps, SignInCallbacks prompt, SignInCallbacks opener)`:
    /// build a config by applying `steps` in order — triples `"set", key, value` / `"parse",
    /// settings, null` / `"env", null, null` (a later step overrides an earlier one for the same
    /// key) — set the sign-in callbacks that are not null (`prompt`'s `deviceCode`, `opener`'s
    /// `openUrl`), and make a client from it. Returns the handle.
    fn Java_aadtoken_Native_clientNew<'local>(
        env,
        steps: JObjectArray<'local>,
        prompt: JObject<'local>,
        opener: JObject<'local>,
    ) -> jlong {
        not_null(&steps, "steps")?;
        let n = env.get_array_length(&steps)?;
        if n % 3 != 0 {
            return Err(Error::invalid_argument("steps", "must hold (op, a, b) triples").into());
        }
        let mut config = Config::new();
        for i in (0..n).step_by(3) {
            // A local frame per step: steps can be many, and each holds a few local references.
            env.with_local_frame(16, |env| -> Outcome<()> {
                let op = JString::from(env.get_object_array_element(&steps, i)?);
                let a = JString::from(env.get_object_array_element(&steps, i + 1)?);
                let b = JString::from(env.get_object_array_element(&steps, i + 2)?);
                match arg_string(env, &op, "step")?.as_str() {
                    "set" => {
                        let key = arg_string(env, &a, "key")?;
                        let value = arg_string(env, &b, "value")?;
                        config.set(&key, &value)?;
                    }
                    "parse" => config.parse(&arg_string(env, &a, "settings")?)?,
                    "env" => config.load_env()?,
                    other => {
                        let problem = format!("'{other}' is unknown");
                        return Err(Error::invalid_argument("step", &problem).into());
                    }
                }
                Ok(())
            })?;
        }
        if let Some(prompt) = JavaSignIn::new(env, &prompt)? {
            config.set_device_code_prompt(Some(prompt as Arc<dyn DeviceCodePrompt>));
        }
        if let Some(opener) = JavaSignIn::new(env, &opener)? {
            config.set_url_opener(Some(opener as Arc<dyn UrlOpener>));
        }
        let client = Client::new(&config)?;
        Ok(handle::to_jlong::<aadtoken_client>(handle::into_raw(Box::new(
            client,
        ))))
    }

    /// `static native Token clientGetToken(long handle, String scopes, boolean refresh, boolean
    /// silent)`: a token for `scopes` (`null` = the configured `scope`), cached while valid;
    /// `refresh` always asks the identity provider (as `aadtoken_client_refresh_token`); `silent`
    /// never waits for a person (as the `_silent` exports, for ojdbc's provider and token
    /// supplier). Blocks the calling thread for at most `timeout_ms`.
    fn Java_aadtoken_Native_clientGetToken<'local>(
        env,
        handle: jlong,
        scopes: JString<'local>,
        refresh: jboolean,
        silent: jboolean,
    ) -> jobject {
        hand_out(env, handle, &scopes, |client, scopes| {
            match (refresh != JNI_FALSE, silent != JNI_FALSE) {
                (false, false) => client.get_token(scopes),
                (true, false) => client.refresh_token(scopes),
                (false, true) => client.get_token_without_interaction(scopes),
                (true, true) => client.refresh_token_without_interaction(scopes),
            }
        })
    }

    /// `static native Token clientSignIn(long handle, String scopes)`: sign a person in now (as
    /// `aadtoken_client_sign_in`) and return a token for `scopes` (`null` = the configured `scope`).
    /// Blocks the calling thread for the whole sign-in; the callbacks run on a library thread.
    fn Java_aadtoken_Native_clientSignIn<'local>(env, handle: jlong, scopes: JString<'local>) -> jobject {
        hand_out(env, handle, &scopes, Client::sign_in)
    }

    /// `static native void clientSignOut(long handle)`: sign the person out (as
    /// `aadtoken_client_sign_out`): forget the account and its refresh token, in memory and in
    /// `cache_file`, and drop the access tokens cached for the application.
    fn Java_aadtoken_Native_clientSignOut<'local>(_, handle: jlong) {
        // SAFETY: the Java class holds its read lock on a live handle during the export's call.
        let client = unsafe { client(handle) }?;
        client.sign_out()?;
        Ok(())
    }

    /// `static native void clientFree(long handle)`: free a client. 0 does nothing.
    fn Java_aadtoken_Native_clientFree<'local>(_, handle: jlong) {
        // SAFETY: the Java class swaps its handle to 0 under its write lock before calling this,
        // so each handle is freed once and no call is using it (0 does nothing).
        unsafe { handle::free(handle::from_jlong::<aadtoken_client>(handle)) };
        Ok(())
    }

    /// `static native String version()`: the library version (as `aadtoken_version`).
    fn Java_aadtoken_Native_version<'local>(env) -> jstring {
        Ok(env.new_string(aadtoken_core::VERSION)?.into_raw())
    }

    /// `static native String[] settingNames()`: every setting key (`core::settings::SETTINGS`), in
    /// the README's order.
    fn Java_aadtoken_Native_settingNames<'local>(env) -> jobject {
        let names = aadtoken_core::settings::SETTINGS;
        let array = env.new_object_array(names.len() as i32, "java/lang/String", JObject::null())?;
        for (i, (name, _)) in names.iter().enumerate() {
            let name = env.new_string(name)?;
            env.set_object_array_element(&array, i as i32, &name)?;
            env.delete_local_ref(name)?;
        }
        Ok(array.into_raw())
    }

    /// `static native String statusText(int status)`: the static text of a status code (as
    /// `aadtoken_status_str`): its name and a short meaning.
    fn Java_aadtoken_Native_statusText<'local>(env, status: jint) -> jstring {
        let text = crate::ffi::aadtoken_status_str(status as u32);
        // SAFETY: aadtoken_status_str returns a static NUL-terminated string, never NULL.
        let text = unsafe { CStr::from_ptr(text) }.to_string_lossy();
        Ok(env.new_string(text)?.into_raw())
    }

    /// `static native String claimsJson(char[] token)`: the token's claims (its JWT payload) as JSON
    /// text, decoded without checking the signature (as `aadtoken_token_claims` /
    /// `aadtoken_claims_json`). A token that is not a readable JWT → `AadTokenException` (100).
    fn Java_aadtoken_Native_claimsJson<'local>(env, token: JCharArray<'local>) -> jstring {
        not_null(&token, "token")?;
        let len = env.get_array_length(&token)?;
        let mut chars = Zeroizing::new(vec![0u16; len as usize]);
        env.get_char_array_region(&token, 0, &mut chars)?;
        let text = Zeroizing::new(
            String::from_utf16(&chars)
                .map_err(|_| Error::invalid_argument("token", "is not valid UTF-16 (was it wiped?)"))?,
        );
        let claims = Claims::from_jwt(&text)?;
        Ok(env.new_string(claims.json())?.into_raw())
    }

    /// `static native void shutdown()`: stop the library's background work and join its thread (as
    /// `aadtoken_shutdown`). Clients, tokens and the cache stay valid.
    fn Java_aadtoken_Native_shutdown<'local>(_) {
        aadtoken_core::client::shutdown();
        Ok(())
    }
}

/// A token from `get` on the client behind `handle`, for `scopes` (`null` = the configured
/// `scope`), as a new `aadtoken.Token`.
fn hand_out<'local>(
    env: &mut JNIEnv<'local>,
    handle: jlong,
    scopes: &JString<'local>,
    get: impl FnOnce(&Client, Option<&str>) -> Result<Arc<Token>, Error>,
) -> Outcome<jobject> {
    // SAFETY: the Java class holds its read lock on a live handle during the export's call.
    let client = unsafe { client(handle) }?;
    let scopes = opt_string(env, scopes)?;
    let token = get(client, scopes.as_deref().map(String::as_str))?;
    Ok(new_token(env, &token)?.into_raw())
}

#[cfg(test)]
mod tests {
    #[test]
    fn widen_gives_the_utf16_of_ascii_at_every_length() {
        let text: Vec<u8> = (0..40u8).map(|i| b'!' + i).collect();
        for len in 0..text.len() {
            let ascii = std::str::from_utf8(&text[..len]).unwrap();
            let mut chars = vec![0xffffu16; len];
            super::widen(ascii.as_bytes(), &mut chars);
            assert_eq!(chars, ascii.encode_utf16().collect::<Vec<u16>>(), "length {len}");
        }
    }
}
