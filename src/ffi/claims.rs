//! `aadtoken_claims`: a token's decoded JWT payload, for diagnosis (no signature check).

use std::ffi::{c_char, CString};

use super::c_string;
use super::export::{fallible, getters};
use super::handle::{self, handle};
use super::token::aadtoken_token;
use aadtoken_core::Claims;

/// The claims of a token: its JWT payload, decoded **without checking the signature** — what
/// the token says, for people and logs (the database checks the signature at logon). Created by
/// `aadtoken_token_claims`; owned by the caller, who frees it with `aadtoken_claims_free`. Its
/// strings are borrowed from it, valid until it is freed, never NULL (`""` when the claim is
/// absent). Immutable: may be read from any thread.
pub struct aadtoken_claims {
    _private: [u8; 0],
}

pub(crate) struct ClaimsObject {
    json: CString,
    aud: CString,
    iss: CString,
    tid: CString,
    oid: CString,
    upn: CString,
    appid: CString,
    roles: CString,
    scp: CString,
    exp: i64,
    iat: i64,
    nbf: i64,
}

// SAFETY: every `aadtoken_claims*` the library hands out is made in `aadtoken_token_claims`.
handle!(aadtoken_claims: Box<ClaimsObject>);

fn text(s: Option<&str>) -> CString {
    c_string(s.unwrap_or(""))
}

fallible! {
    /// Decode the claims of `t` (a JWT's payload; no signature check). On success `*out` receives
    /// a claims object the caller frees with `aadtoken_claims_free`. Returns
    /// `AADTOKEN_ERR_INVALID_ARGUMENT` when `t` or `out` is NULL or the token is not a readable JWT
    /// (e.g. an encrypted token); the message never contains the token. Thread-safe.
    fn aadtoken_token_claims(t: *const aadtoken_token, out: *mut *mut aadtoken_claims) {
        let token = handle::get(t, "token")?;
        let out = handle::out(out, "out")?;
        let c = Claims::from_jwt(token.secret())?;
        let obj = ClaimsObject {
            json: text(Some(c.json())),
            aud: text(c.audience().as_deref()),
            iss: text(c.issuer()),
            tid: text(c.tenant_id()),
            oid: text(c.object_id()),
            upn: text(c.user_name()),
            appid: text(c.app_id()),
            roles: text(c.roles().as_deref()),
            scp: text(c.scopes().as_deref()),
            exp: c.expires_on().unwrap_or(0),
            iat: c.issued_at().unwrap_or(0),
            nbf: c.not_before().unwrap_or(0),
        };
        out.write(handle::into_raw(Box::new(obj)));
        Ok(())
    }
}

const EMPTY: *const c_char = c"".as_ptr();

getters! {
    /// The whole payload as JSON text (as the token carries it). NULL `c` → "".
    fn aadtoken_claims_json(c: *const aadtoken_claims) -> *const c_char = |o| o.json.as_ptr(), else EMPTY;

    /// `aud`, the audience: the database accepts the token only if this equals the
    /// `application_id_uri` in its `IDENTITY_PROVIDER_CONFIG` (a wrong audience is the most common
    /// logon failure). Several audiences are joined by spaces. NULL `c` → "".
    fn aadtoken_claims_aud(c: *const aadtoken_claims) -> *const c_char = |o| o.aud.as_ptr(), else EMPTY;

    /// `iss`, the issuer. NULL `c` → "".
    fn aadtoken_claims_iss(c: *const aadtoken_claims) -> *const c_char = |o| o.iss.as_ptr(), else EMPTY;

    /// `tid`, the tenant that issued the token. NULL `c` → "".
    fn aadtoken_claims_tid(c: *const aadtoken_claims) -> *const c_char = |o| o.tid.as_ptr(), else EMPTY;

    /// `oid`, the object id of the principal (user or service principal). NULL `c` → "".
    fn aadtoken_claims_oid(c: *const aadtoken_claims) -> *const c_char = |o| o.oid.as_ptr(), else EMPTY;

    /// The user's sign-in name: `upn`, else `preferred_username`, else `unique_name` (what
    /// `IDENTIFIED GLOBALLY AS 'AZURE_USER=…'` matches); "" in application tokens.
    fn aadtoken_claims_upn(c: *const aadtoken_claims) -> *const c_char = |o| o.upn.as_ptr(), else EMPTY;

    /// The application the token was issued to: `appid`, else `azp`. NULL `c` → "".
    fn aadtoken_claims_appid(c: *const aadtoken_claims) -> *const c_char = |o| o.appid.as_ptr(), else EMPTY;

    /// `roles`, the app roles, space separated (what `AZURE_ROLE=…` and global roles match).
    fn aadtoken_claims_roles(c: *const aadtoken_claims) -> *const c_char = |o| o.roles.as_ptr(), else EMPTY;

    /// `scp`, the delegated scopes of a user token, space separated; "" in application tokens.
    fn aadtoken_claims_scp(c: *const aadtoken_claims) -> *const c_char = |o| o.scp.as_ptr(), else EMPTY;

    /// `exp`, expiry in Unix seconds; 0 when absent or NULL `c`.
    fn aadtoken_claims_exp(c: *const aadtoken_claims) -> i64 = |o| o.exp, else 0;

    /// `iat`, issue time in Unix seconds; 0 when absent or NULL `c`.
    fn aadtoken_claims_iat(c: *const aadtoken_claims) -> i64 = |o| o.iat, else 0;

    /// `nbf`, not valid before, Unix seconds; 0 when absent or NULL `c`.
    fn aadtoken_claims_nbf(c: *const aadtoken_claims) -> i64 = |o| o.nbf, else 0;
}

/// Free a claims object. NULL is allowed and does nothing.
#[no_mangle]
pub unsafe extern "C" fn aadtoken_claims_free(c: *mut aadtoken_claims) {
    // SAFETY: `c` is NULL or came from `aadtoken_token_claims`, and is freed once.
    unsafe { handle::free(c) }
}
