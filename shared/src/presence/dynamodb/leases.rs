//! Connection leases: each connection's lease item, sharded by connection id and sorted by
//! when the lease ends, so that the connections whose `$disconnect` was lost can be found.

use super::DynamoPresence;
use super::items::{
    BACKSTOP_TTL_SECS, LEASE_SHARDS, connection_key, epoch, expires_in, lease_key, lease_partition, millis, number,
};
use crate::domain::ConnectionId;
use crate::dynamodb::codec::n;
use crate::dynamodb::read::SortKey;
use crate::dynamodb::write::Write;
use crate::dynamodb::{DynamoError, Item, ItemExt, SK, TTL};

impl DynamoPresence {
    /// Moves the connection's lease to a full one from now once less than half of it is
    /// left: activity keeps a connection's lease, at one write per half lease, not per action.
    pub(super) async fn renew_lease_if_due(&self, connection: &ConnectionId, item: &Item) -> Result<(), DynamoError> {
        // Items written before leases existed have none to renew; their backstop ttl applies.
        let Some(old) = number(item, "lease").and_then(|ends| u64::try_from(ends).ok()) else { return Ok(()) };
        let (now, lease) = (millis(epoch()), millis(self.lease));
        if old.saturating_sub(now) > lease / 2 {
            return Ok(());
        }
        let renewed = now.saturating_add(lease);
        let mut lease_item = lease_key(connection.as_str(), renewed);
        lease_item.insert(TTL.into(), expires_in(BACKSTOP_TTL_SECS));
        let writes = vec![
            Write::update(connection_key(connection), "SET #lease = :new")
                .condition("#lease = :old")
                .values(&[(":new", n(renewed)), (":old", n(old))])
                .old_on_failure(),
            Write::delete(lease_key(connection.as_str(), old)),
            Write::put(lease_item),
        ];
        // Cancelled: another action renewed it first, or the connection left. Either is fine.
        let _cancelled = self.transact(writes).await?;
        Ok(())
    }

    /// Every connection whose lease is still running: one `Query` per lease shard, all at
    /// once, for lease ends after now. Lease items are small (about 70 bytes), so a
    /// strongly consistent read unit covers some 60 of them.
    pub(super) async fn live(&self) -> Result<Vec<ConnectionId>, DynamoError> {
        let after_now = format!("{:015}", millis(epoch()).saturating_add(1));
        let shards = (0..LEASE_SHARDS)
            .map(|shard| self.table.query(lease_partition(shard), SortKey::From(after_now.clone())).items());
        let mut live: Vec<String> = Vec::new();
        for answer in futures::future::join_all(shards).await {
            live.extend(
                answer?
                    .iter()
                    .filter_map(|item| item.string(SK))
                    .filter_map(|sk| sk.split_once('#').map(|(_, connection)| connection.to_owned())),
            );
        }
        // One lease item per connection, but a batch read refuses a key named twice.
        live.sort();
        live.dedup();
        Ok(live.into_iter().map(ConnectionId::new).collect())
    }

    /// Up to `limit` connections whose lease ended, longest ended first: one `Query` per
    /// lease shard, all at once, for lease ends before now.
    pub(super) async fn expired(&self, limit: usize) -> Result<Vec<ConnectionId>, DynamoError> {
        let now = format!("{:015}", millis(epoch()));
        let shards = (0..LEASE_SHARDS).map(|shard| {
            self.table.query(lease_partition(shard), SortKey::Before(now.clone())).limit(limit.max(1)).items()
        });
        let mut expired: Vec<String> = Vec::new();
        for answer in futures::future::join_all(shards).await {
            expired.extend(answer?.iter().filter_map(|item| item.string(SK).map(str::to_owned)));
        }
        // `<lease end>#<cid>`: sorting the keys sorts by lease end.
        expired.sort();
        Ok(expired
            .into_iter()
            .filter_map(|sk| sk.split_once('#').map(|(_, connection)| ConnectionId::new(connection)))
            .take(limit)
            .collect())
    }
}
