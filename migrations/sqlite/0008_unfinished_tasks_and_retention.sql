-- indexes for two periodic walks over old rows.
-- start-up lists the tasks without a result, oldest first, to queue them again (the
-- in-process queue does not survive a restart); pages are keyset on (created_at, id).
create index idx_tasks_created_at on tasks (created_at, id);
-- the results service's retention job deletes expired tokens and idempotency keys past their
-- window in bounded batches; each batch finds its rows through these.
create index idx_api_tokens_expires_at on api_tokens (expires_at);
create index idx_idempotency_keys_created_at on idempotency_keys (created_at);
