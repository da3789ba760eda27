//! The HTTP API's use cases: accounts, logins and token rotation.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::{ServiceError, to_user};
use crate::auth::{self, TokenKeys};
use crate::clock::now_ms;
use crate::domain::{Nick, Password, UserId};
use crate::presence::Presence;
use crate::protocol::{Empty, IdAvailable, Session, SignedUp, User};
use crate::store::{NewRefreshToken, RefreshRotation, Rotation, Store, StoreError};

/// How many login attempts one user id may make, and how many failed logins one client
/// address may have, in a sliding window. Per id every attempt counts, right or wrong (a real
/// user rarely logs in ten times in five minutes); per address only failures count, so the
/// hundred users of one office or school behind one NAT can all log in.
/// `signups_per_address` bounds the accounts one address creates in the same window: each
/// signup is a password hash, and a flood of them must not fill the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    pub per_user: u32,
    pub per_address: u32,
    pub signups_per_address: u32,
    pub window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self { per_user: 10, per_address: 100, signups_per_address: 20, window: Duration::from_secs(300) }
    }
}

/// A limiter that cannot answer within this lets the attempt through: an outage of the
/// presence store must not take logins down with it (they only need the database).
const LIMITER_PATIENCE: Duration = Duration::from_millis(1500);

#[derive(Clone)]
pub struct AuthService {
    pub store: Arc<dyn Store>,
    /// Holds the login attempt counters (Redis in production, shared by every instance).
    pub presence: Arc<dyn Presence>,
    pub keys: TokenKeys,
    pub refresh_ttl: Duration,
    /// A session's absolute lifetime from its login, however often it is refreshed.
    pub session_lifetime: Duration,
    /// How long a rotated refresh token may be presented again for the same answer.
    pub refresh_grace: Duration,
    pub login_limits: LoginLimits,
}

/// The part of a client address one person controls: the whole IPv4 address, the /64 of
/// an IPv6 one (one host or home network gets a /64, and walking through it must not buy
/// fresh attempts).
fn address_key(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Waits for the limiter at most [`LIMITER_PATIENCE`]: `Err(())` when it failed or was slow,
/// and the attempt is let through (an outage of presence must not stop every login).
async fn ask_limiter(
    verdict: impl std::future::Future<Output = crate::presence::PresenceResult<Option<Duration>>>,
) -> Result<Option<Duration>, ()> {
    match tokio::time::timeout(LIMITER_PATIENCE, verdict).await {
        Ok(Ok(wait)) => Ok(wait),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "login limiter unavailable; attempt allowed");
            Err(())
        }
        Err(_) => {
            tracing::warn!("login limiter too slow; attempt allowed");
            Err(())
        }
    }
}

/// `duration` in the store's unit, milliseconds (saturating: a configured lifetime is
/// never negative).
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The store's time `duration` from now.
fn from_now(duration: Duration) -> i64 {
    now_ms().saturating_add(millis(duration))
}

fn wrong() -> ServiceError {
    ServiceError::Wrong("wrong user id or password".into())
}

impl AuthService {
    pub async fn id_available(&self, user_id: &UserId) -> Result<IdAvailable, ServiceError> {
        match self.store.user(user_id).await? {
            Some(_) => Err(ServiceError::Exist(format!("user id {user_id} is taken"))),
            None => Ok(IdAvailable { available: true }),
        }
    }

    /// `POST /auth/signup`: limited per client address before any password work.
    pub async fn signup_attempt(
        &self,
        user_id: &UserId,
        password: &Password,
        nick: &Nick,
        client: Option<IpAddr>,
    ) -> Result<SignedUp, ServiceError> {
        if let Some(address) = client {
            let key = format!("signup:addr:{}", address_key(address));
            if let Ok(Some(wait)) = self.over_limit(&key, self.login_limits.signups_per_address).await {
                tracing::info!("signup refused by the per-address limit");
                return Err(ServiceError::rate_limited(wait));
            }
        }
        self.signup(user_id, password, nick).await
    }

    /// Creates an account; no rate limit (see [`Self::signup_attempt`]).
    pub async fn signup(&self, user_id: &UserId, password: &Password, nick: &Nick) -> Result<SignedUp, ServiceError> {
        let hash = auth::hash_password(password.expose()).await?;
        match self.store.create_user(user_id, nick, &hash).await {
            Ok(()) => Ok(SignedUp { user_id: user_id.clone(), nick: nick.clone() }),
            Err(StoreError::Conflict) => Err(ServiceError::Exist(format!("user id {user_id} is taken"))),
            Err(err) => Err(err.into()),
        }
    }

    /// Counts one attempt against `key`: `Err(())` when the limiter failed or was slow, and
    /// the attempt is let through.
    async fn over_limit(&self, key: &str, limit: u32) -> Result<Option<Duration>, ()> {
        ask_limiter(self.presence.hit_rate_limit(key, limit, self.login_limits.window)).await
    }

    /// `POST /auth/login` as typed by the client. The client address is checked and the user
    /// id counted before any password work, so a flood costs no argon2 time; an address over
    /// its limit does not also use up the id's attempts, so a blocked address cannot lock
    /// anyone out. A failure then counts against the address. A malformed id or password
    /// cannot belong to anyone, but gets the answer of a wrong password after the time of
    /// one, so neither the answer nor its timing tells which ids exist.
    pub async fn login_attempt(
        &self,
        raw_user_id: &str,
        raw_password: &str,
        client: Option<IpAddr>,
    ) -> Result<Session, ServiceError> {
        let limits = self.login_limits;
        let parsed = (UserId::parse(raw_user_id), Password::parse(raw_password));
        let address_key = client.map(|address| format!("login:addr:{}", address_key(address)));
        let mut refused = Ok(None);
        if let Some(key) = &address_key {
            let wait = ask_limiter(self.presence.rate_limit_wait(key, limits.per_address, limits.window)).await;
            refused = wait.map(|wait| wait.map(|w| (w, "address")));
        }
        // A limiter that just failed is not asked again: that would only double the wait.
        if let (Ok(None), Ok(user_id)) = (refused, &parsed.0) {
            let key = format!("login:user:{user_id}");
            refused = self.over_limit(&key, limits.per_user).await.map(|wait| wait.map(|w| (w, "user id")));
        }
        if let Ok(Some((wait, limit))) = refused {
            tracing::info!(limit, "login attempt refused by the rate limit");
            return Err(ServiceError::rate_limited(wait));
        }
        let outcome = match parsed {
            (Ok(user_id), Ok(password)) => self.login(&user_id, &password).await,
            _ => match auth::verify_against_decoy(raw_password).await {
                Ok(()) => Err(wrong()),
                Err(err) => Err(err.into()),
            },
        };
        if let (Err(ServiceError::Wrong(_)), Some(key)) = (&outcome, &address_key) {
            // Whether the limiter answers or not, this answer stands.
            let _ = self.over_limit(key, limits.per_address).await;
        }
        outcome
    }

    /// Checks a well-formed id and password; no rate limit (see [`Self::login_attempt`]).
    pub async fn login(&self, user_id: &UserId, password: &Password) -> Result<Session, ServiceError> {
        let Some(record) = self.store.user(user_id).await? else {
            auth::verify_against_decoy(password.expose()).await?;
            return Err(wrong());
        };
        if !auth::verify_password(password.expose(), &record.password_hash).await? {
            return Err(wrong());
        }
        let family_id = auth::token_hash(&auth::random_token()?);
        let refresh = auth::random_token()?;
        self.store
            .insert_refresh_token(&NewRefreshToken {
                token_hash: auth::token_hash(&refresh),
                user_id: user_id.clone(),
                family_id,
                expires_at_ms: self.refresh_expiry(),
                session_ends_at_ms: from_now(self.session_lifetime),
            })
            .await?;
        self.session(&record.user_id, refresh, self.keys.issue(&record.user_id)?).await
    }

    /// Rotates a refresh token. A retry of the same rotation within `refresh_grace` (a lost
    /// answer, two tabs at once) gets the very same pair; a retired token presented later
    /// revokes its whole family.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Session, ServiceError> {
        let next = self.keys.refresh_successor(refresh_token);
        let new_hash = auth::token_hash(&next);
        let rotation = RefreshRotation {
            old_hash: &auth::token_hash(refresh_token),
            new_hash: &new_hash,
            new_expires_at_ms: self.refresh_expiry(),
            grace_ms: millis(self.refresh_grace),
        };
        match self.store.rotate_refresh_token(&rotation).await? {
            Rotation::Rotated { user_id, rotated_at_ms } => {
                let access = self.keys.issue_at(&user_id, rotated_at_ms)?;
                self.session(&user_id, next, access).await
            }
            Rotation::Reused => {
                tracing::warn!("retired refresh token presented again; its family is revoked");
                Err(ServiceError::Unauthenticated("refresh token was already used; log in again".into()))
            }
            Rotation::Expired => Err(ServiceError::Unauthenticated("refresh token expired; log in again".into())),
            Rotation::Unknown => Err(ServiceError::Unauthenticated("unknown refresh token".into())),
        }
    }

    pub async fn logout(&self, refresh_token: &str) -> Result<Empty, ServiceError> {
        if self.store.revoke_refresh_family(&auth::token_hash(refresh_token)).await? {
            Ok(Empty {})
        } else {
            Err(ServiceError::Unauthenticated("unknown refresh token".into()))
        }
    }

    pub async fn me(&self, access_token: &str) -> Result<User, ServiceError> {
        let user_id = self.keys.verify(access_token)?;
        let record = self
            .store
            .user(&user_id)
            .await?
            .ok_or_else(|| ServiceError::Unauthenticated("the token's user does not exist".into()))?;
        Ok(to_user(&record))
    }

    fn refresh_expiry(&self) -> i64 {
        from_now(self.refresh_ttl)
    }

    async fn session(
        &self,
        user_id: &UserId,
        refresh_token: String,
        access: auth::IssuedAccess,
    ) -> Result<Session, ServiceError> {
        let record = self
            .store
            .user(user_id)
            .await?
            .ok_or_else(|| ServiceError::Unauthenticated("user no longer exists".into()))?;
        Ok(Session { access_token: access.token, refresh_token, expires_in: access.expires_in, user: to_user(&record) })
    }
}

#[cfg(test)]
mod tests {
    use super::address_key;

    #[test]
    fn addresses_are_limited_per_host_or_ipv6_64() {
        assert_eq!(address_key("203.0.113.7".parse().unwrap()), "203.0.113.7");
        assert_eq!(address_key("::ffff:203.0.113.7".parse().unwrap()), "203.0.113.7");
        let a = address_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = address_key("2001:db8:1:2:ffff:1:2:3".parse().unwrap());
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(a, b, "one /64 is one client");
        assert_ne!(a, address_key("2001:db8:1:3::1".parse().unwrap()));
    }
}
