-- Times are milliseconds since the Unix epoch.
CREATE TABLE users (
    user_id       TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT NOT NULL,
    nick          TEXT NOT NULL,
    group_id      TEXT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX users_group ON users (group_id);

CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL,
    family_id   TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    replaced_by TEXT NULL,
    revoked_at  BIGINT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE rooms (
    room_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    title         TEXT NOT NULL,
    password_hash TEXT NULL,
    capacity      BIGINT NOT NULL,
    owner         TEXT NOT NULL,
    last_seq      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    closed_at     BIGINT NULL
);
-- The lobby is room 0: it never closes and numbers its messages like any room.
INSERT INTO rooms (room_id, title, capacity, owner, created_at) VALUES (0, 'lobby', 0, '', 0);

CREATE TABLE user_groups (
    group_id   TEXT PRIMARY KEY NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE messages (
    message_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id       BIGINT NULL,
    seq           BIGINT NULL,
    group_id      TEXT NULL,
    sender        TEXT NOT NULL,
    recipient     TEXT NULL,
    text          TEXT NOT NULL,
    client_msg_id TEXT NULL,
    created_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX messages_room_seq ON messages (room_id, seq);
CREATE UNIQUE INDEX messages_client_msg ON messages (sender, client_msg_id);
CREATE INDEX messages_group ON messages (group_id, message_id);
CREATE INDEX messages_whisper ON messages (sender, recipient, message_id);
