//! Typed handles: the one module that casts between a C pointer and the Rust value behind it
//! (after rustls-ffi's `Castable`).
//!
//! Each C type is a zero-sized marker struct (so cbindgen writes `typedef struct X X;`) that
//! implements [`Handle`] once, naming the Rust value behind its pointers and how that value is
//! held:
//!
//! * [`Boxed`]: a `Box` the caller owns alone (`aadtoken_config`, `aadtoken_client`,
//!   `aadtoken_error` …): the library hands it out with [`into_raw`], the `_free` function ends
//!   it with [`free`]; readable with [`get`], and writable with [`get_mut`] where the header says
//!   the caller uses it from one thread.
//! * [`Shared`]: one reference of an `Arc` (`aadtoken_token`): [`free`] drops that reference;
//!   read-only.
//! * [`Borrowed`]: memory this library neither allocates nor frees (the host's
//!   `struct dpiAccessToken`, ODPI-C's): only [`get`] and [`get_mut`].
//!
//! The generic helpers check for NULL (an `AADTOKEN_ERR_INVALID_ARGUMENT` error naming the
//! argument), and [`free`] and [`read`] run inside the panic guard. Out-parameters go through
//! [`out`], the host's `void *userdata` through [`UserData`], and JNI's `long` handles through
//! [`to_jlong`]/[`from_jlong`].

use std::ffi::c_void;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::Arc;

use super::call_or;
use aadtoken_core::Error;

/// How the value behind a handle is held (see the module comment).
pub(crate) trait Ownership {}

/// An ownership the library hands out and takes back: `Holder<T>` becomes a raw pointer to `T`
/// and back.
pub(crate) trait Owning: Ownership {
    type Holder<T>;
    fn into_raw<T>(holder: Self::Holder<T>) -> *mut T;
    /// # Safety
    /// `p` came from [`Owning::into_raw`] of this ownership and is released once.
    unsafe fn release<T>(p: *mut T);
}

/// An ownership that allows `&mut` access (no other reference exists while the host calls).
pub(crate) trait Exclusive: Ownership {}

/// A `Box` owned by the caller (`T*`, freed by its `_free`).
pub(crate) enum Boxed {}
/// One reference of an `Arc` (the `_free` drops it; read-only).
pub(crate) enum Shared {}
/// Memory owned elsewhere, never allocated or freed here.
pub(crate) enum Borrowed {}

impl Ownership for Boxed {}
impl Ownership for Shared {}
impl Ownership for Borrowed {}
impl Exclusive for Boxed {}
impl Exclusive for Borrowed {}

impl Owning for Boxed {
    type Holder<T> = Box<T>;
    fn into_raw<T>(holder: Box<T>) -> *mut T {
        Box::into_raw(holder)
    }
    unsafe fn release<T>(p: *mut T) {
        // SAFETY: `p` came from `Box::into_raw` and is released once (the trait's contract).
        drop(unsafe { Box::from_raw(p) })
    }
}

impl Owning for Shared {
    type Holder<T> = Arc<T>;
    fn into_raw<T>(holder: Arc<T>) -> *mut T {
        Arc::into_raw(holder).cast_mut()
    }
    unsafe fn release<T>(p: *mut T) {
        // SAFETY: `p` came from `Arc::into_raw` and this reference is released once.
        drop(unsafe { Arc::from_raw(p.cast_const()) })
    }
}

/// A C type's marker, the Rust value its pointers point to, and how that value is held.
///
/// # Safety
/// Every non-NULL pointer to `Self` that reaches the library must point to a live `Self::Rust`
/// held as `Self::Ownership` says: made by [`into_raw`] of the same type (for an owning
/// ownership), or the host's own memory of that layout (for [`Borrowed`]). The exports' header
/// comments state this contract for the host.
pub(crate) unsafe trait Handle {
    type Rust;
    type Ownership: Ownership;
}

/// Declare the [`Handle`] of a C type, naming the Rust value behind it and its ownership:
/// `handle!(aadtoken_config: Box<Config>)`, `handle!(aadtoken_token: Arc<Token>)`,
/// `handle!(OdpiAccessToken: Borrowed<aadtoken_dpi_access_token>)`. The invocation's
/// `// SAFETY:` comment says where every pointer of that type comes from ([`Handle`]'s contract).
macro_rules! handle {
    ($c:ident: Box<$rust:ty>) => {
        $crate::ffi::handle::handle!(@impl $c, $rust, Boxed);
    };
    ($c:ident: Arc<$rust:ty>) => {
        $crate::ffi::handle::handle!(@impl $c, $rust, Shared);
    };
    ($c:ident: Borrowed<$rust:ty>) => {
        $crate::ffi::handle::handle!(@impl $c, $rust, Borrowed);
    };
    (@impl $c:ident, $rust:ty, $ownership:ident) => {
        // SAFETY: stated by the invocation (see `Handle`).
        unsafe impl $crate::ffi::handle::Handle for $c {
            type Rust = $rust;
            type Ownership = $crate::ffi::handle::$ownership;
        }
    };
}
pub(crate) use handle;

/// Hand a value to the caller as a handle pointer.
pub(crate) fn into_raw<H: Handle>(value: <H::Ownership as Owning>::Holder<H::Rust>) -> *mut H
where
    H::Ownership: Owning,
{
    <H::Ownership as Owning>::into_raw(value).cast()
}

/// Borrow the value behind a handle argument; NULL is an `AADTOKEN_ERR_INVALID_ARGUMENT` error
/// naming `name`.
///
/// # Safety
/// `p` is NULL or a live handle (see [`Handle`]) that no thread changes during the borrow.
pub(crate) unsafe fn get<'a, H: Handle>(p: *const H, name: &str) -> Result<&'a H::Rust, Error> {
    match NonNull::new(p.cast_mut()) {
        // SAFETY: a live handle points to its `Rust` value (the caller's contract).
        Some(p) => Ok(unsafe { p.cast::<H::Rust>().as_ref() }),
        None => Err(Error::invalid_argument(name, "must not be NULL")),
    }
}

/// Mutably borrow the value behind a handle argument, as [`get`].
///
/// # Safety
/// As [`get`], and no other thread uses the handle during the borrow.
pub(crate) unsafe fn get_mut<'a, H: Handle>(p: *mut H, name: &str) -> Result<&'a mut H::Rust, Error>
where
    H::Ownership: Exclusive,
{
    match NonNull::new(p) {
        // SAFETY: a live handle used by this thread alone (the caller's contract).
        Some(p) => Ok(unsafe { p.cast::<H::Rust>().as_mut() }),
        None => Err(Error::invalid_argument(name, "must not be NULL")),
    }
}

/// Read from a handle in an infallible accessor: NULL and a panic give `fallback`.
///
/// The accessors are safe `extern "C"` functions whose contract (in the header) is that `p` is
/// NULL or a live handle of its type; that is what makes the dereference sound.
pub(crate) fn read<H: Handle, T>(p: *const H, fallback: T, body: impl FnOnce(&H::Rust) -> T) -> T {
    match NonNull::new(p.cast_mut()) {
        // SAFETY: a non-NULL `p` is a live handle (the accessor's documented contract).
        Some(p) => call_or(fallback, || body(unsafe { p.cast::<H::Rust>().as_ref() })),
        None => fallback,
    }
}

/// Release a handle the caller owns (a `_free` function). NULL does nothing; a panic in a
/// destructor is caught.
///
/// # Safety
/// `p` is NULL or a live handle made by [`into_raw`], released once, and no other thread uses
/// it during or after the call.
pub(crate) unsafe fn free<H: Handle>(p: *mut H)
where
    H::Ownership: Owning,
{
    if !p.is_null() {
        // SAFETY: the caller's contract above.
        call_or((), || unsafe {
            <H::Ownership as Owning>::release(p.cast::<H::Rust>())
        });
    }
}

/// The same handle seen as another marker (e.g. ODPI-C's `void *context`, which must be an
/// `aadtoken_client*`).
pub(crate) fn recast<H: Handle>(p: *mut c_void) -> *const H {
    p.cast_const().cast()
}

/// A handle as JNI's `long`.
#[cfg(feature = "jni")]
pub(crate) fn to_jlong<H: Handle>(p: *mut H) -> i64 {
    p as usize as i64
}

/// A handle from JNI's `long` (0 → NULL).
#[cfg(feature = "jni")]
pub(crate) fn from_jlong<H: Handle>(handle: i64) -> *mut H {
    handle as usize as *mut H
}

/// A checked out-parameter: written only by [`Out::write`], at the end of a successful call.
pub(crate) struct Out<'a, T> {
    p: NonNull<T>,
    _life: PhantomData<&'a mut T>,
}

/// Check an out-parameter before any work is done: NULL is an `AADTOKEN_ERR_INVALID_ARGUMENT`
/// error naming `name`.
///
/// # Safety
/// `p` is NULL or points to writable storage for one `T` (which may be uninitialised) for the
/// duration of the call.
pub(crate) unsafe fn out<'a, T>(p: *mut T, name: &str) -> Result<Out<'a, T>, Error> {
    match NonNull::new(p) {
        Some(p) => Ok(Out {
            p,
            _life: PhantomData,
        }),
        None => Err(Error::invalid_argument(
            name,
            "must not be NULL (it receives the result)",
        )),
    }
}

impl<T> Out<'_, T> {
    /// Write the result (never read or dropped what was there: it may be uninitialised).
    pub(crate) fn write(self, value: T) {
        // SAFETY: `p` is writable storage for one `T` (checked by `out`, contract of its caller).
        unsafe { self.p.as_ptr().write(value) }
    }
}

/// Write an optional out-parameter (NULL: the caller does not want the result, and `value` is
/// not called).
///
/// # Safety
/// As [`out`].
pub(crate) unsafe fn write_opt<T>(p: *mut T, value: impl FnOnce() -> T) {
    if let Some(p) = NonNull::new(p) {
        // SAFETY: writable storage for one `T` (the caller's contract, as `out`).
        unsafe { p.as_ptr().write(value()) }
    }
}

/// The host's `void *userdata`, carried to whichever thread runs its callback (logging, the
/// device-code prompt, opening a URL, client assertions, async results). The library never
/// dereferences it; it only hands it back.
#[derive(Clone, Copy)]
pub(crate) struct UserData(*mut c_void);

// SAFETY: the pointer is never dereferenced here, only passed back to the host's callback, whose
// contract (in the header) is that `userdata` is usable from any thread, at once from several.
unsafe impl Send for UserData {}
// SAFETY: as above.
unsafe impl Sync for UserData {}

impl UserData {
    pub(crate) fn new(p: *mut c_void) -> UserData {
        UserData(p)
    }

    /// The pointer, to pass to the host's callback.
    pub(crate) fn get(self) -> *mut c_void {
        self.0
    }

    /// The address, to tell two callback registrations apart.
    pub(crate) fn addr(self) -> usize {
        self.0 as usize
    }
}
