-- Version 2: edits and deletes keep a message in place (its text emptied when deleted);
-- mentions are kept as ' id id ' beside the text; reactions
-- and read marks have tables of their own. Existing messages read as never edited, not
-- deleted, without reactions or mentions.
ALTER TABLE messages
    ADD COLUMN edited_at  BIGINT NULL,
    ADD COLUMN deleted_at BIGINT NULL,
    ADD COLUMN mentions   VARCHAR(1600) NOT NULL DEFAULT '',
    ADD INDEX messages_whisper_in (recipient, sender, message_id);

CREATE TABLE message_reactions (
    message_id BIGINT NOT NULL,
    emoji      VARCHAR(16) NOT NULL,
    user_id    VARCHAR(30) NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- conversation: 'r' room (target the room id), 'g' group, 'w' whisper (target the other user).
CREATE TABLE read_marks (
    user_id      VARCHAR(30) NOT NULL,
    conversation CHAR(1) NOT NULL,
    target       VARCHAR(30) NOT NULL,
    up_to        BIGINT NOT NULL,
    PRIMARY KEY (user_id, conversation, target)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
