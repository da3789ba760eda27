//! Groups: one item per group (with its member count) followed in sort order by one item per
//! member, all in one partition; a user's group is also on their profile, and a move between
//! groups changes all three in one transaction.

use super::items::{group_sk, member_sk, profile_key};
use super::{DynamoStore, MAX_ATTEMPTS};
use crate::clock::now_ms;
use crate::domain::{GroupId, UserId};
use crate::dynamodb::codec::{key, n, s};
use crate::dynamodb::read::SortKey;
use crate::dynamodb::write::{Refused, Write};
use crate::dynamodb::{DynamoError, ItemExt, backoff};
use crate::store::{GroupMove, Store as _, StoreError, StoreResult};

impl DynamoStore {
    /// Moves the user into `to` (creating it when `create`) or out of any group, in one
    /// transaction conditioned on the group the user was in; then removes the group left
    /// behind if that made it empty.
    pub(super) async fn move_user(
        &self,
        user_id: &UserId,
        to: Option<&GroupId>,
        create: bool,
    ) -> StoreResult<GroupMove> {
        for attempt in 0..MAX_ATTEMPTS {
            let previous = self.user(user_id).await?.ok_or(StoreError::NotFound)?.group_id;
            if previous.as_ref() == to {
                return match (to, create) {
                    // The user's own group exists, so its id is taken.
                    (Some(_), true) => Err(StoreError::Conflict),
                    _ => Ok(GroupMove::default()),
                };
            }
            let mut writes = Vec::new();
            if let Some(group) = to {
                if create {
                    let mut meta = key("GROUPS", group_sk(group));
                    meta.insert("group_id".into(), s(group.as_str()));
                    meta.insert("created_at".into(), n(now_ms()));
                    meta.insert("members".into(), n(1));
                    writes.push(Write::put(meta).condition("attribute_not_exists(#pk)"));
                } else {
                    writes.push(
                        Write::update(key("GROUPS", group_sk(group)), "ADD #members :one")
                            .condition("attribute_exists(#pk)")
                            .values(&[(":one", n(1))]),
                    );
                }
                let mut member = key("GROUPS", member_sk(group, user_id));
                member.insert("group_id".into(), s(group.as_str()));
                member.insert("user_id".into(), s(user_id.as_str()));
                writes.push(Write::put(member).condition("attribute_not_exists(#pk)"));
            }
            let profile = match to {
                Some(group) => {
                    Write::update(profile_key(user_id), "SET #group_id = :to").values(&[(":to", s(group.as_str()))])
                }
                None => Write::update(profile_key(user_id), "REMOVE #group_id"),
            };
            writes.push(match &previous {
                Some(group) => profile
                    .condition("attribute_exists(#pk) AND #group_id = :previous")
                    .values(&[(":previous", s(group.as_str()))]),
                None => profile.condition("attribute_exists(#pk) AND attribute_not_exists(#group_id)"),
            });
            if let Some(group) = &previous {
                writes.push(
                    Write::update(key("GROUPS", group_sk(group)), "ADD #members :minus").values(&[(":minus", n(-1))]),
                );
                writes.push(Write::delete(key("GROUPS", member_sk(group, user_id))));
            }
            match self.table.transact(writes).await? {
                Ok(()) => {
                    let Some(left) = previous else { return Ok(GroupMove::default()) };
                    let left_removed = self.remove_group_if_empty(&left).await?;
                    return Ok(GroupMove { left: Some(left), left_removed });
                }
                Err(cancelled) if to.is_some() && cancelled.failed(0) => {
                    return Err(if create { StoreError::Conflict } else { StoreError::NotFound });
                }
                // The user moved meanwhile, or another transaction held an item: read again.
                Err(cancelled) => {
                    tracing::debug!(codes = ?cancelled.codes(), "group move lost a race; retrying");
                    backoff(attempt).await;
                }
            }
        }
        Err(DynamoError::Contended { operation: "group move", attempts: MAX_ATTEMPTS }.into())
    }

    /// Deletes the group unless someone is in it: a join that lands first keeps it, and a
    /// join after the delete finds no group.
    async fn remove_group_if_empty(&self, group_id: &GroupId) -> StoreResult<bool> {
        let delete = Write::delete(key("GROUPS", group_sk(group_id)))
            .condition("attribute_exists(#pk) AND #members <= :zero")
            .values(&[(":zero", n(0))]);
        match self.table.try_write(delete).await? {
            Ok(_) => Ok(true),
            Err(Refused::Condition(_)) => Ok(false),
            Err(conflict) => Err(DynamoError::from(conflict).into()),
        }
    }

    /// Every group with its members, oldest group first.
    pub(super) async fn all_groups(&self) -> StoreResult<Vec<(GroupId, Vec<UserId>)>> {
        let items = self.table.query("GROUPS", SortKey::Between("G#".into(), "G$".into())).items().await?;
        // Sort keys put each group right before its members.
        let mut groups: Vec<(i64, GroupId, Vec<UserId>)> = Vec::new();
        for item in &items {
            let group_id = GroupId::parse(item.required_string("group_id")?).map_err(DynamoError::corrupt)?;
            match item.string("user_id") {
                None => groups.push((item.required_number("created_at")?, group_id, Vec::new())),
                Some(member) => match groups.last_mut() {
                    Some((_, last, members)) if *last == group_id => {
                        members.push(UserId::parse(member).map_err(DynamoError::corrupt)?)
                    }
                    // A member item left over from a removed group.
                    _ => {}
                },
            }
        }
        groups.sort_by(|a, b| (a.0, a.1.as_str()).cmp(&(b.0, b.1.as_str())));
        Ok(groups.into_iter().map(|(_, group, members)| (group, members)).collect())
    }

    pub(super) async fn members_of(&self, group_id: &GroupId) -> StoreResult<Vec<UserId>> {
        let prefix = format!("G#{group_id}#M#");
        let range = SortKey::Between(prefix.clone(), format!("{prefix}\u{10ffff}"));
        let items = self.table.query("GROUPS", range).items().await?;
        Ok(items
            .iter()
            .map(|item| UserId::parse(item.required_string("user_id")?).map_err(DynamoError::corrupt))
            .collect::<Result<_, _>>()?)
    }
}
