//! Refresh tokens and their families: rotation is one transaction whose conditional
//! retirement of the old token decides which of two concurrent presentations wins.

use super::items::{family_key, token_key};
use super::{DynamoStore, MAX_ATTEMPTS};
use crate::clock::now_ms;
use crate::domain::UserId;
use crate::dynamodb::codec::{n, s};
use crate::dynamodb::write::Write;
use crate::dynamodb::{DynamoError, ItemExt, TTL, backoff};
use crate::store::{NewRefreshToken, RefreshRotation, Rotation, StoreResult};

/// Refresh tokens stay readable this long past expiry, so that a late presentation reads as
/// `Expired` rather than `Unknown`; then TTL deletes them.
const TOKEN_GRACE_SECS: i64 = 7 * 24 * 3600;

impl DynamoStore {
    pub(super) async fn insert_token(&self, token: &NewRefreshToken) -> StoreResult<()> {
        let expires_at_ms = token.expires_at_ms.min(token.session_ends_at_ms);
        let mut item = token_key(&token.token_hash);
        item.insert("user_id".into(), s(token.user_id.as_str()));
        item.insert("family_id".into(), s(&token.family_id));
        item.insert("expires_at".into(), n(expires_at_ms));
        item.insert("session_ends_at".into(), n(token.session_ends_at_ms));
        item.insert(TTL.into(), n(expires_at_ms / 1000 + TOKEN_GRACE_SECS));
        self.put_new(item).await
    }

    pub(super) async fn rotate(&self, rotation: &RefreshRotation<'_>) -> StoreResult<Rotation> {
        let Some(old) = self.table.get_item(token_key(rotation.old_hash)).await? else {
            return Ok(Rotation::Unknown);
        };
        let user_id = UserId::parse(old.required_string("user_id")?).map_err(DynamoError::corrupt)?;
        let family_id = old.required_string("family_id")?.to_owned();
        let expires_at = old.required_number("expires_at")?;
        // Tokens made before sessions had an end: theirs is when the token expires.
        let session_ends_at = old.number("session_ends_at")?.unwrap_or(expires_at);
        let new_expires_at_ms = rotation.new_expires_at_ms.min(session_ends_at);
        for attempt in 0..MAX_ATTEMPTS {
            let now = now_ms();
            // The conditional retirement is the whole race: of two concurrent presentations
            // of one token exactly one commits; the other finds it retired by the same
            // rotation just now and answers alike.
            let retire = Write::update(token_key(rotation.old_hash), "SET #replaced_by = :new, #retired_at = :now")
                .condition("attribute_exists(#pk) AND attribute_not_exists(#replaced_by) AND #expires_at > :now")
                .values(&[(":new", s(rotation.new_hash)), (":now", n(now))]);
            // The family must not be revoked; it lives as long as its newest token.
            let family = Write::update(family_key(&family_id), "SET #ttl = :ttl")
                .condition("attribute_not_exists(#revoked_at)")
                .values(&[(":ttl", n(new_expires_at_ms / 1000 + TOKEN_GRACE_SECS))]);
            let mut new = token_key(rotation.new_hash);
            new.insert("user_id".into(), s(user_id.as_str()));
            new.insert("family_id".into(), s(&family_id));
            new.insert("expires_at".into(), n(new_expires_at_ms));
            new.insert("session_ends_at".into(), n(session_ends_at));
            new.insert(TTL.into(), n(new_expires_at_ms / 1000 + TOKEN_GRACE_SECS));
            let insert = Write::put(new).condition("attribute_not_exists(#pk)");
            match self.table.transact(vec![retire, family, insert]).await? {
                Ok(()) => return Ok(Rotation::Rotated { user_id, rotated_at_ms: now }),
                Err(cancelled) if cancelled.failed(0) || cancelled.failed(1) => {
                    if let Some(rotated_at_ms) = self.recent_rotation(rotation, &family_id, now).await? {
                        return Ok(Rotation::Rotated { user_id, rotated_at_ms });
                    }
                    if expires_at <= now {
                        return Ok(Rotation::Expired);
                    }
                    self.revoke_family(&family_id, expires_at).await?;
                    return Ok(Rotation::Reused);
                }
                Err(cancelled) if cancelled.failed(2) => return Err(crate::store::StoreError::Conflict),
                Err(_) => backoff(attempt).await,
            }
        }
        Err(DynamoError::Contended { operation: "refresh rotation", attempts: MAX_ATTEMPTS }.into())
    }

    pub(super) async fn revoke_token_family(&self, token_hash: &str) -> StoreResult<bool> {
        let Some(token) = self.table.get_item(token_key(token_hash)).await? else {
            return Ok(false);
        };
        self.revoke_family(token.required_string("family_id")?, token.required_number("expires_at")?).await?;
        Ok(true)
    }

    /// When the old token of `rotation` was retired by this same rotation within its grace
    /// window, in a family still live: the time of that rotation.
    async fn recent_rotation(
        &self,
        rotation: &RefreshRotation<'_>,
        family_id: &str,
        now: i64,
    ) -> StoreResult<Option<i64>> {
        let Some(old) = self.table.get_item(token_key(rotation.old_hash)).await? else {
            return Ok(None);
        };
        let retired_at = match (old.string("replaced_by"), old.number("retired_at")?) {
            (Some(successor), Some(at)) if successor == rotation.new_hash && now - at <= rotation.grace_ms => at,
            _ => return Ok(None),
        };
        let family = self.table.get_item(family_key(family_id)).await?;
        let revoked = family.is_some_and(|family| family.contains_key("revoked_at"));
        Ok((!revoked).then_some(retired_at))
    }

    async fn revoke_family(&self, family_id: &str, expires_at_ms: i64) -> StoreResult<()> {
        let revoke = Write::update(
            family_key(family_id),
            "SET #revoked_at = if_not_exists(#revoked_at, :now), #ttl = if_not_exists(#ttl, :ttl)",
        )
        .values(&[(":now", n(now_ms())), (":ttl", n(expires_at_ms / 1000 + TOKEN_GRACE_SECS))]);
        self.table.write(revoke).await?;
        Ok(())
    }
}
