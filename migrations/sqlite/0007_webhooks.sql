-- webhooks (issue 10): a task may name a url to be told of its events, signed as the
-- standard webhooks specification says with a secret of its owner's. the same records as
-- postgresql's 0005_webhooks.sql; see there for what each holds.
--
-- the subscription: the url, and the events wanted as a comma-separated list.
alter table tasks add column webhook_url text;
alter table tasks add column webhook_events text;

-- each user's signing secret, created by the gateway on first use, replaced on rotation.
create table webhook_secrets (
    user_id text primary key references users (id) on delete cascade,
    secret text not null,
    created_at text not null
);

-- the outbox, filled by the triggers below in the transaction that stores the fact.
create table webhook_deliveries (
    id text primary key,
    task_id text not null,
    agent_id text not null,
    user_id text not null,
    event text not null check (event in ('completed', 'running')),
    url text not null,
    run_attempt integer,
    occurred_at text not null,
    payload text,
    status text not null default 'pending'
        check (status in ('pending', 'delivered', 'failed')),
    attempts integer not null default 0,
    next_attempt_at text not null,
    last_status_code integer,
    last_error text,
    created_at text not null,
    delivered_at text
);
create index idx_webhook_deliveries_task_id on webhook_deliveries (task_id, created_at);
create index idx_webhook_deliveries_due on webhook_deliveries (next_attempt_at)
    where status = 'pending';
create index idx_webhook_deliveries_created_at on webhook_deliveries (created_at);

create table webhook_attempts (
    delivery_id text not null references webhook_deliveries (id) on delete cascade,
    attempt integer not null,
    attempted_at text not null,
    status_code integer,
    error text,
    duration_ms integer not null,
    primary key (delivery_id, attempt)
);

-- a stored result is a `completed` event. times are copied from the row, already in the
-- stores' fixed-width text form, so that text order stays time order.
create trigger task_results_enqueue_webhook after insert on task_results begin
    insert into webhook_deliveries (id, task_id, agent_id, user_id, event, url, occurred_at,
        next_attempt_at, created_at)
    select 'msg_' || lower(hex(randomblob(16))), new.task_id, new.agent_id, tasks.user_id,
        'completed', tasks.webhook_url, new.created_at, new.created_at, new.created_at
    from tasks
    where tasks.id = new.task_id
        and tasks.webhook_url is not null
        and instr(',' || tasks.webhook_events || ',', ',completed,') > 0;
end;

-- a recorded start whose count of attempts grew is a `running` event.
create trigger task_runs_enqueue_webhook_after_insert after insert on task_runs
when new.started_at is not null and new.attempts >= 1 begin
    insert into webhook_deliveries (id, task_id, agent_id, user_id, event, url, run_attempt,
        occurred_at, next_attempt_at, created_at)
    select 'msg_' || lower(hex(randomblob(16))), new.task_id, new.agent_id, tasks.user_id,
        'running', tasks.webhook_url, new.attempts, new.started_at, new.started_at,
        new.started_at
    from tasks
    where tasks.id = new.task_id
        and tasks.webhook_url is not null
        and instr(',' || tasks.webhook_events || ',', ',running,') > 0;
end;

create trigger task_runs_enqueue_webhook_after_update after update of attempts on task_runs
when new.started_at is not null and new.attempts > old.attempts begin
    insert into webhook_deliveries (id, task_id, agent_id, user_id, event, url, run_attempt,
        occurred_at, next_attempt_at, created_at)
    select 'msg_' || lower(hex(randomblob(16))), new.task_id, new.agent_id, tasks.user_id,
        'running', tasks.webhook_url, new.attempts, new.started_at, new.started_at,
        new.started_at
    from tasks
    where tasks.id = new.task_id
        and tasks.webhook_url is not null
        and instr(',' || tasks.webhook_events || ',', ',running,') > 0;
end;
