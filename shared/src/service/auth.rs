//! The HTTP API's use cases: accounts, logins and token rotation.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::{ServiceError, to_user};
use crate::auth::{self, TokenKeys};
use crate::clock::now_ms;
use crate::domain::{Nick, Password, UserId};
use crate::store::{NewRefreshToken, Rotation, Store, StoreError};

#[derive(Clone)]
pub struct AuthService {
    pub store: Arc<dyn Store>,
    pub keys: TokenKeys,
    pub refresh_ttl: Duration,
}

impl AuthService {
    pub async fn id_available(&self, user_id: &UserId) -> Result<Value, ServiceError> {
        match self.store.user(user_id).await? {
            Some(_) => Err(ServiceError::Exist(format!("user id {user_id} is taken"))),
            None => Ok(json!({ "available": true })),
        }
    }

    pub async fn signup(&self, user_id: &UserId, password: &Password, nick: &Nick) -> Result<Value, ServiceError> {
        let hash = auth::hash_password(password.expose()).await?;
        match self.store.create_user(user_id, nick, &hash).await {
            Ok(()) => Ok(json!({ "userId": user_id, "nick": nick })),
            Err(StoreError::Conflict) => Err(ServiceError::Exist(format!("user id {user_id} is taken"))),
            Err(err) => Err(err.into()),
        }
    }

    pub async fn login(&self, user_id: &UserId, password: &Password) -> Result<Value, ServiceError> {
        let wrong = || ServiceError::Wrong("wrong user id or password".into());
        let Some(record) = self.store.user(user_id).await? else {
            auth::verify_against_decoy(password.expose()).await;
            return Err(wrong());
        };
        if !auth::verify_password(password.expose(), &record.password_hash).await {
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
            })
            .await?;
        self.session(&record.user_id, refresh).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Result<Value, ServiceError> {
        let next = auth::random_token()?;
        let rotation = self
            .store
            .rotate_refresh_token(&auth::token_hash(refresh_token), &auth::token_hash(&next), self.refresh_expiry())
            .await?;
        match rotation {
            Rotation::Rotated(user_id) => self.session(&user_id, next).await,
            Rotation::Reused => {
                tracing::warn!("retired refresh token presented again; its family is revoked");
                Err(ServiceError::Unauthenticated("refresh token was already used; log in again".into()))
            }
            Rotation::Expired => Err(ServiceError::Unauthenticated("refresh token expired; log in again".into())),
            Rotation::Unknown => Err(ServiceError::Unauthenticated("unknown refresh token".into())),
        }
    }

    pub async fn logout(&self, refresh_token: &str) -> Result<Value, ServiceError> {
        if self.store.revoke_refresh_family(&auth::token_hash(refresh_token)).await? {
            Ok(json!({}))
        } else {
            Err(ServiceError::Unauthenticated("unknown refresh token".into()))
        }
    }

    pub async fn me(&self, access_token: &str) -> Result<Value, ServiceError> {
        let user_id = self.keys.verify(access_token)?;
        let record = self
            .store
            .user(&user_id)
            .await?
            .ok_or_else(|| ServiceError::Unauthenticated("the token's user does not exist".into()))?;
        Ok(serde_json::to_value(to_user(&record)).unwrap_or(Value::Null))
    }

    fn refresh_expiry(&self) -> i64 {
        now_ms() + self.refresh_ttl.as_millis() as i64
    }

    async fn session(&self, user_id: &UserId, refresh_token: String) -> Result<Value, ServiceError> {
        let record = self.store.user(user_id).await?.ok_or_else(|| ServiceError::Unauthenticated("user no longer exists".into()))?;
        let access = self.keys.issue(user_id)?;
        Ok(json!({
            "accessToken": access.token,
            "refreshToken": refresh_token,
            "expiresIn": access.expires_in,
            "user": to_user(&record),
        }))
    }
}
