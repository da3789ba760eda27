//! Credentials: argon2id password hashes, HS256 access tokens, opaque refresh tokens.
//!
//! Refresh tokens are 256 random bits shown to the client once; the store keeps only their
//! SHA-256, so a leaked table cannot be replayed.

use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hmac};
use serde::{Deserialize, Serialize};

mod jwt_crypto;

use crate::domain::{Secret, UserId};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("token is missing")]
    MissingToken,
    #[error("token is invalid or expired")]
    BadToken,
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error("no secure randomness: {0}")]
    Randomness(String),
    /// Every core is hashing and the queue for them is full.
    #[error("too many password checks at once")]
    Busy,
}

/// argon2id with OWASP's second recommended setting (19 MiB, 2 passes, 1 lane): about
/// 20–40 ms per login on one core, small enough for a 128 MB Lambda.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// At most this many hashes wait for a core; a request beyond them is refused at once
/// (`Busy`) rather than piling up 19 MiB buffers and seconds of waiting.
const HASHES_WAITING_PER_CORE: usize = 8;

/// Bounds password hashing to the cores there are: each hash holds a 19 MiB buffer for its
/// whole run, so a burst of signups or logins would otherwise cost memory in proportion to
/// the burst, not to the machine.
struct HashingGate {
    running: tokio::sync::Semaphore,
    waiting: std::sync::atomic::AtomicUsize,
    max_waiting: usize,
}

/// A place in the gate's queue, given back however the wait ends (also when cancelled).
struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

fn hashing_gate() -> &'static HashingGate {
    static GATE: std::sync::OnceLock<HashingGate> = std::sync::OnceLock::new();
    GATE.get_or_init(|| {
        let cores = std::thread::available_parallelism().map(std::num::NonZeroUsize::get).unwrap_or(1);
        HashingGate {
            running: tokio::sync::Semaphore::new(cores),
            waiting: std::sync::atomic::AtomicUsize::new(0),
            max_waiting: cores * HASHES_WAITING_PER_CORE,
        }
    })
}

/// Runs one argon2 computation on a blocking thread once a core is free.
async fn hashing<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, AuthError> {
    let gate = hashing_gate();
    let queued = gate.waiting.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    let place = Waiting(&gate.waiting);
    if queued >= gate.max_waiting {
        return Err(AuthError::Busy);
    }
    let permit = gate.running.acquire().await.map_err(|_| AuthError::Busy)?;
    drop(place);
    let result = tokio::task::spawn_blocking(work).await.map_err(|e| AuthError::Hashing(e.to_string()));
    drop(permit);
    result
}

/// Hashes off the async workers: argon2 is deliberately slow.
pub async fn hash_password(password: &str) -> Result<String, AuthError> {
    let password = password.to_owned();
    hashing(move || {
        argon2()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| AuthError::Hashing(e.to_string()))
    })
    .await?
}

/// False for a wrong password and for a hash that does not parse.
pub async fn verify_password(password: &str, hash: &str) -> Result<bool, AuthError> {
    let (password, hash) = (password.to_owned(), hash.to_owned());
    hashing(move || argon2().verify_password(password.as_bytes(), hash.as_str()).is_ok()).await
}

/// The hash a login naming an unknown user is checked against: made with the parameters of
/// [`argon2`] (a test holds them equal) and written down here, so that not even the first
/// such login after a start pays for making it.
const DECOY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$nW/QjQ/xPTiHMMmr2LQYcw$sasica0BuqxOGeKnNXNSUhOkS5Lk5dHbbY2o0A14DcA";

/// Spends the time of a real password check when a login names an unknown user, so the
/// answer does not reveal which ids exist.
pub async fn verify_against_decoy(password: &str) -> Result<(), AuthError> {
    let password = password.to_owned();
    hashing(move || argon2().verify_password(password.as_bytes(), DECOY_HASH).is_ok()).await.map(drop)
}

pub fn random_token() -> Result<String, AuthError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).map_err(|e| AuthError::Randomness(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// What the store keeps of a refresh token.
pub fn token_hash(token: &str) -> String {
    let digest = digest::digest(&digest::SHA256, token.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: u64,
    exp: u64,
}

/// Issues and checks access tokens; cheap to clone.
#[derive(Clone)]
pub struct TokenKeys {
    inner: Arc<KeysInner>,
}

struct KeysInner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl: Duration,
    /// Derives a refresh token's successor, so a retried rotation can answer it again
    /// without the store keeping any token.
    successor: hmac::Key,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys").field("access_ttl", &self.inner.access_ttl).finish_non_exhaustive()
    }
}

pub struct IssuedAccess {
    pub token: String,
    pub expires_in: u64,
}

impl TokenKeys {
    pub fn new(secret: &Secret, access_ttl: Duration) -> Self {
        jwt_crypto::install();
        // Pinned to HS256: a token naming any other algorithm (`none` included) is refused.
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            inner: Arc::new(KeysInner {
                encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
                decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
                validation,
                access_ttl,
                successor: hmac::Key::new(
                    hmac::HMAC_SHA256,
                    &[b"refresh-successor:", secret.expose().as_bytes()].concat(),
                ),
            }),
        }
    }

    pub fn issue(&self, user: &UserId) -> Result<IssuedAccess, AuthError> {
        self.issue_at(user, crate::clock::now_ms())
    }

    /// The access token issued at `issued_at_ms`: the same token for the same instant, so a
    /// retried refresh answers the very pair it answered first; `expires_in` counts from then.
    pub fn issue_at(&self, user: &UserId, issued_at_ms: i64) -> Result<IssuedAccess, AuthError> {
        let ttl = self.inner.access_ttl.as_secs();
        let iat = u64::try_from(issued_at_ms / 1000).unwrap_or(0);
        let claims = Claims { sub: user.to_string(), iat, exp: iat + ttl };
        let token = jsonwebtoken::encode(&Header::new(jsonwebtoken::Algorithm::HS256), &claims, &self.inner.encoding)
            .map_err(|e| AuthError::Hashing(e.to_string()))?;
        let elapsed_secs = u64::try_from((crate::clock::now_ms() - issued_at_ms) / 1000).unwrap_or(0);
        Ok(IssuedAccess { token, expires_in: ttl.saturating_sub(elapsed_secs) })
    }

    /// The refresh token that replaces `token`: unguessable without both `token` and the
    /// secret, and the same every time for the same `token`.
    pub fn refresh_successor(&self, token: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.inner.successor, token.as_bytes()))
    }

    pub fn verify(&self, token: &str) -> Result<UserId, AuthError> {
        if token.is_empty() {
            return Err(AuthError::MissingToken);
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.inner.decoding, &self.inner.validation)
            .map_err(|_| AuthError::BadToken)?;
        UserId::parse(&data.claims.sub).map_err(|_| AuthError::BadToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ttl: u64) -> TokenKeys {
        TokenKeys::new(&Secret::from_config("test-secret-test-secret"), Duration::from_secs(ttl))
    }

    #[tokio::test]
    async fn password_hash_verifies_only_the_password() {
        let hash = hash_password("correct horse").await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash).await.unwrap());
        assert!(!verify_password("wrong horse", &hash).await.unwrap());
        assert!(!verify_password("correct horse", "not a hash").await.unwrap());
    }

    #[test]
    fn access_token_round_trip() {
        let user = UserId::parse("alice").unwrap();
        let issued = keys(900).issue(&user).unwrap();
        assert_eq!(issued.expires_in, 900);
        assert_eq!(keys(900).verify(&issued.token).unwrap(), user);
    }

    #[test]
    fn tokens_from_another_secret_or_alg_none_are_refused() {
        let user = UserId::parse("alice").unwrap();
        let other = TokenKeys::new(&Secret::from_config("another-secret-entirely"), Duration::from_secs(900));
        let foreign = other.issue(&user).unwrap().token;
        assert!(keys(900).verify(&foreign).is_err());
        let payload = URL_SAFE_NO_PAD
            .encode(format!(r#"{{"sub":"alice","iat":1,"exp":{}}}"#, (crate::clock::now_ms() / 1000 + 600)));
        let unsigned = format!("{}.{payload}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#));
        assert!(keys(900).verify(&unsigned).is_err());
        assert!(keys(900).verify("garbage").is_err());
        assert!(matches!(keys(900).verify(""), Err(AuthError::MissingToken)));
    }

    /// The algorithm is pinned: the right secret under another HMAC, or claims without
    /// `exp`, or an `exp` in the past, are all refused.
    #[test]
    fn only_hs256_with_exp_in_the_future_is_accepted() {
        // Made first: its constructor installs the crypto that `encode` below signs with.
        let keys = keys(900);
        let secret = "test-secret-test-secret";
        let key = EncodingKey::from_secret(secret.as_bytes());
        let now = (crate::clock::now_ms() / 1000) as u64;
        let sign = |alg: jsonwebtoken::Algorithm, claims: serde_json::Value| {
            jsonwebtoken::encode(&Header::new(alg), &claims, &key).unwrap()
        };
        let good = serde_json::json!({"sub": "alice", "iat": now, "exp": now + 600});
        assert!(keys.verify(&sign(jsonwebtoken::Algorithm::HS256, good.clone())).is_ok());
        for alg in [jsonwebtoken::Algorithm::HS384, jsonwebtoken::Algorithm::HS512] {
            assert!(keys.verify(&sign(alg, good.clone())).is_err(), "{alg:?} with the right secret");
        }
        let no_exp = serde_json::json!({"sub": "alice", "iat": now});
        assert!(keys.verify(&sign(jsonwebtoken::Algorithm::HS256, no_exp)).is_err(), "exp is required");
        let past = serde_json::json!({"sub": "alice", "iat": now - 20, "exp": now - 1});
        assert!(keys.verify(&sign(jsonwebtoken::Algorithm::HS256, past)).is_err(), "no leeway");
        let not_a_user = serde_json::json!({"sub": "Not A User!", "iat": now, "exp": now + 600});
        assert!(keys.verify(&sign(jsonwebtoken::Algorithm::HS256, not_a_user)).is_err());
    }

    #[tokio::test]
    async fn the_decoy_costs_what_a_real_hash_costs() {
        let decoy = argon2::PasswordHash::new(DECOY_HASH).unwrap();
        let hashed = hash_password("anything").await.unwrap();
        let live = argon2::PasswordHash::new(&hashed).unwrap();
        assert_eq!(decoy.algorithm, live.algorithm);
        assert_eq!(decoy.version, live.version);
        assert_eq!(decoy.params, live.params, "the decoy must be checked with the live parameters");
        assert_eq!(decoy.hash.map(|h| h.len()), live.hash.map(|h| h.len()));
        assert!(
            verify_password("no one's password", DECOY_HASH).await.unwrap(),
            "a full verification, not an early parse failure"
        );
    }

    #[test]
    fn argon2id_parameters_are_the_documented_ones() {
        let hash = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(hash_password("correct horse"))
            .unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    }

    #[test]
    fn expired_tokens_are_refused() {
        let user = UserId::parse("alice").unwrap();
        let issued = keys(0).issue(&user).unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        assert!(keys(0).verify(&issued.token).is_err());
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
        assert_eq!(token_hash(&a), token_hash(&a));
    }
}
