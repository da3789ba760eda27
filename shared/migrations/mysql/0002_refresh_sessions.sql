-- A rotation's time, so that a retry of it within the grace window gets the same answer;
-- and the session's absolute end, copied to every token of the family. Sessions open before
-- this migration end when their current token expires.
ALTER TABLE refresh_tokens
    ADD COLUMN retired_at BIGINT NULL,
    ADD COLUMN session_ends_at BIGINT NOT NULL DEFAULT 0;
UPDATE refresh_tokens SET session_ends_at = expires_at;
