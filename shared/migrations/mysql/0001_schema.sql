-- Times are milliseconds since the Unix epoch. Binary collation: ids compare exactly.
CREATE TABLE users (
    user_id       VARCHAR(30) NOT NULL PRIMARY KEY,
    password_hash VARCHAR(255) NOT NULL,
    nick          VARCHAR(20) NOT NULL,
    group_id      VARCHAR(30) NULL,
    created_at    BIGINT NOT NULL,
    INDEX users_group (group_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE refresh_tokens (
    token_hash  CHAR(64) NOT NULL PRIMARY KEY,
    user_id     VARCHAR(30) NOT NULL,
    family_id   CHAR(64) NOT NULL,
    expires_at  BIGINT NOT NULL,
    replaced_by CHAR(64) NULL,
    revoked_at  BIGINT NULL,
    INDEX refresh_tokens_family (family_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE rooms (
    room_id       BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    title         VARCHAR(50) NOT NULL,
    password_hash VARCHAR(255) NULL,
    capacity      BIGINT NOT NULL,
    owner         VARCHAR(30) NOT NULL,
    last_seq      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    closed_at     BIGINT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The lobby is room 0: it never closes and numbers its messages like any room.
SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',NO_AUTO_VALUE_ON_ZERO');
INSERT INTO rooms (room_id, title, capacity, owner, created_at) VALUES (0, 'lobby', 0, '', 0);

CREATE TABLE user_groups (
    group_id   VARCHAR(30) NOT NULL PRIMARY KEY,
    created_at BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE messages (
    message_id    BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    room_id       BIGINT NULL,
    seq           BIGINT NULL,
    group_id      VARCHAR(30) NULL,
    sender        VARCHAR(30) NOT NULL,
    recipient     VARCHAR(30) NULL,
    text          VARCHAR(2000) NOT NULL,
    client_msg_id VARCHAR(64) NULL,
    created_at    BIGINT NOT NULL,
    UNIQUE INDEX messages_room_seq (room_id, seq),
    UNIQUE INDEX messages_client_msg (sender, client_msg_id),
    INDEX messages_group (group_id, message_id),
    INDEX messages_whisper (sender, recipient, message_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
