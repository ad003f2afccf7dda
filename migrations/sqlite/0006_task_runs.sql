-- the lifecycle of a task beside its result: when its latest attempt started, how many
-- attempts there were, and whether its owner asked to cancel it. written by the results
-- service only, like task_results.
create table task_runs (
    task_id text primary key,
    agent_id text not null,
    user_id text not null,
    started_at text,
    attempts integer not null default 0,
    cancel_requested_at text,
    updated_at text not null
);
create index idx_task_runs_updated_at on task_runs (updated_at);

-- a task can end canceled, and statistics count those apart.
alter table agent_stats add column canceled integer not null default 0;
drop trigger task_results_count_after_insert;
create trigger task_results_count_after_insert after insert on task_results begin
    insert into agent_stats (agent_id, tasks_completed, succeeded, failed, timed_out, canceled,
        total_duration_ms, last_run_at)
    values (new.agent_id, 1, new.status = 'succeeded', new.status = 'failed',
        new.status = 'timed_out', new.status = 'canceled', new.duration_ms, new.created_at)
    on conflict (agent_id) do update set
        tasks_completed = tasks_completed + 1,
        succeeded = succeeded + excluded.succeeded,
        failed = failed + excluded.failed,
        timed_out = timed_out + excluded.timed_out,
        canceled = canceled + excluded.canceled,
        total_duration_ms = total_duration_ms + excluded.total_duration_ms,
        last_run_at = max(coalesce(last_run_at, ''), excluded.last_run_at);
end;
