-- A stored result counts once in its agent's statistics, in the statement that stores it:
-- `insert ... on conflict (task_id) do nothing` inserts no row for a result stored before, so
-- the trigger does not fire for it. A batch of results is then one statement.
create trigger task_results_count_after_insert after insert on task_results begin
    insert into agent_stats (agent_id, tasks_completed, succeeded, failed, timed_out,
        total_duration_ms, last_run_at)
    values (new.agent_id, 1, new.status = 'succeeded', new.status = 'failed',
        new.status = 'timed_out', new.duration_ms, new.created_at)
    on conflict (agent_id) do update set
        tasks_completed = tasks_completed + 1,
        succeeded = succeeded + excluded.succeeded,
        failed = failed + excluded.failed,
        timed_out = timed_out + excluded.timed_out,
        total_duration_ms = total_duration_ms + excluded.total_duration_ms,
        last_run_at = max(coalesce(last_run_at, ''), excluded.last_run_at);
end;
