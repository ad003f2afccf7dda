-- the lifecycle of a task beside its result: when its latest attempt started, how many
-- attempts there were, and whether its owner asked to cancel it. written by the results
-- service only (workers announce starts through the queue; the gateway asks the results
-- service to cancel), like task_results; keyed by task id, without foreign keys.
create table task_runs (
    task_id varchar(255) collate "C" primary key,
    agent_id varchar(255) not null,
    user_id varchar(255) not null,
    started_at timestamptz,
    attempts integer not null default 0 check (attempts >= 0),
    cancel_requested_at timestamptz,
    updated_at timestamptz not null default now()
);
create index idx_task_runs_updated_at on task_runs (updated_at);

-- a task can end canceled, and statistics count those apart.
alter table task_results drop constraint task_results_status_check;
alter table task_results add constraint task_results_status_check
    check (status in ('succeeded', 'failed', 'timed_out', 'canceled'));
alter table agent_stats add column canceled bigint not null default 0;
