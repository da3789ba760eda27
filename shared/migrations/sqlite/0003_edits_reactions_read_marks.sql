-- Version 2: as the MySQL migration of the same name.
ALTER TABLE messages ADD COLUMN edited_at BIGINT NULL;
ALTER TABLE messages ADD COLUMN deleted_at BIGINT NULL;
ALTER TABLE messages ADD COLUMN mentions TEXT NOT NULL DEFAULT '';
CREATE INDEX messages_whisper_in ON messages (recipient, sender, message_id);

CREATE TABLE message_reactions (
    message_id BIGINT NOT NULL,
    emoji      TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
);

CREATE TABLE read_marks (
    user_id      TEXT NOT NULL,
    conversation TEXT NOT NULL,
    target       TEXT NOT NULL,
    up_to        BIGINT NOT NULL,
    PRIMARY KEY (user_id, conversation, target)
);
