-- stores a batch of results and counts the new ones in agent_stats, in one statement and so
-- one transaction. the first of several results with one task id in the batch is the one
-- kept, as when they arrive one after another. rows are written in key order (task ids, then
-- agent ids), so that two batches that share keys wait for each other instead of
-- deadlocking. each column comes as an array ($1 to $12); $13 to $16 are the statuses
-- succeeded, failed, timed_out and canceled.
with incoming as (
    select distinct on (task_id) *
    from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int4[], $6::bytea[],
                $7::bytea[], $8::bool[], $9::bool[], $10::int8[], $11::text[],
                $12::timestamptz[])
        with ordinality as incoming (task_id, agent_id, user_id, status, exit_code, stdout,
            stderr, stdout_truncated, stderr_truncated, duration_ms, error, created_at,
            position)
    order by task_id, position
),
inserted as (
    insert into task_results (task_id, agent_id, user_id, status, exit_code, stdout, stderr,
        stdout_truncated, stderr_truncated, duration_ms, error, created_at)
    select task_id, agent_id, user_id, status, exit_code, stdout, stderr, stdout_truncated,
        stderr_truncated, duration_ms, error, created_at
    from incoming
    order by task_id
    on conflict (task_id) do nothing
    returning agent_id, status, duration_ms, created_at
),
notified as (
    -- delivered at commit to every process that listens (see `watch_results`), in chunks
    -- that stay under postgresql's 8000-byte payload limit.
    select pg_notify('bazaar_results', string_agg(task_id, ',' order by task_id))
    from (select task_id, (row_number() over (order by task_id) - 1) / 128 as chunk
          from incoming) numbered
    group by chunk
),
counted as (
    insert into agent_stats (agent_id, tasks_completed, succeeded, failed, timed_out,
        canceled, total_duration_ms, last_run_at)
    select agent_id, count(*), count(*) filter (where status = $13),
        count(*) filter (where status = $14), count(*) filter (where status = $15),
        count(*) filter (where status = $16), sum(duration_ms)::bigint, max(created_at)
    from inserted
    group by agent_id
    order by agent_id
    on conflict (agent_id) do update set
        tasks_completed = agent_stats.tasks_completed + excluded.tasks_completed,
        succeeded = agent_stats.succeeded + excluded.succeeded,
        failed = agent_stats.failed + excluded.failed,
        timed_out = agent_stats.timed_out + excluded.timed_out,
        canceled = agent_stats.canceled + excluded.canceled,
        total_duration_ms = agent_stats.total_duration_ms + excluded.total_duration_ms,
        last_run_at = greatest(agent_stats.last_run_at, excluded.last_run_at)
)
select (select count(*) from inserted) from (select count(*) from notified) forced
