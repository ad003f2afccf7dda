-- idempotency keys: a client's `Idempotency-Key` on a task submission names the task it
-- created, so that a retried request returns that task instead of running again. written by
-- the gateway; a key is honoured for 24 hours, after which the same key may name a new task.
create table idempotency_keys (
    user_id varchar(255) not null references users (id),
    key varchar(255) not null,
    task_id varchar(255) not null,
    -- sha-256 of what the request asked for: the same key with another request is refused.
    request_hash char(64) not null,
    created_at timestamptz not null,
    primary key (user_id, key)
);
