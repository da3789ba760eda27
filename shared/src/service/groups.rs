//! `group.*` actions.

use super::{Caller, Chat, ServiceError};
use crate::domain::GroupId;
use crate::protocol::{Empty, GroupJoined, GroupList, GroupSummary};
use crate::store::{GroupMove, StoreError};

impl Chat {
    pub(super) async fn group_list(&self) -> Result<GroupList, ServiceError> {
        let mut groups = Vec::new();
        for (group_id, members) in self.store.groups().await? {
            let online = self.presence.online(&members).await?.len() as u32;
            groups.push(GroupSummary { group_id, members: members.len() as u32, online });
        }
        Ok(GroupList { groups })
    }

    /// Refreshes the group the caller left (if any) and the one they are now in.
    async fn announce_group_move(
        &self,
        caller: &Caller,
        moved: &GroupMove,
        now_in: Option<&GroupId>,
    ) -> Result<(), ServiceError> {
        self.refresh_profile(&caller.user).await?;
        let mut deliveries = Vec::new();
        for group in moved.left.iter().chain(now_in) {
            deliveries.extend(self.group_refresh(group, None).await?);
        }
        self.deliver(deliveries).await;
        Ok(())
    }

    pub(super) async fn group_create(&self, caller: &Caller, group_id: &GroupId) -> Result<GroupJoined, ServiceError> {
        let moved = match self.store.create_group(group_id, &caller.user).await {
            Ok(moved) => moved,
            Err(StoreError::Conflict) => return Err(ServiceError::Exist(format!("group {group_id} exists"))),
            Err(err) => return Err(err.into()),
        };
        self.announce_group_move(caller, &moved, Some(group_id)).await?;
        Ok(GroupJoined { group_id: group_id.clone() })
    }

    pub(super) async fn group_join(&self, caller: &Caller, group_id: &GroupId) -> Result<GroupJoined, ServiceError> {
        let moved = match self.store.join_group(group_id, &caller.user).await {
            Ok(moved) => moved,
            Err(StoreError::NotFound) => return Err(ServiceError::NoInfo(format!("no group {group_id}"))),
            Err(err) => return Err(err.into()),
        };
        self.announce_group_move(caller, &moved, Some(group_id)).await?;
        Ok(GroupJoined { group_id: group_id.clone() })
    }

    pub(super) async fn group_leave(&self, caller: &Caller) -> Result<Empty, ServiceError> {
        let moved = self.store.leave_group(&caller.user).await?;
        if moved.left.is_none() {
            return Err(ServiceError::Invalid("not in a group".into()));
        }
        self.announce_group_move(caller, &moved, None).await?;
        Ok(Empty {})
    }
}
