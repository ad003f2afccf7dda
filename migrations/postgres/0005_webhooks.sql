-- webhooks (issue 10): a task may name a url to be told of its events, signed as the
-- standard webhooks specification says with a secret of its owner's.
--
-- the subscription is two columns of the task, written by the gateway with the task itself:
-- the url, and the events wanted as a comma-separated list (`completed`, `running`).
alter table tasks add column webhook_url text;
alter table tasks add column webhook_events text;

-- each user's signing secret (`whsec_` and base64), created by the gateway on first use and
-- replaced when its owner rotates it. kept in clear: signing needs the secret itself.
create table webhook_secrets (
    user_id varchar(255) primary key references users (id) on delete cascade,
    secret text not null,
    created_at timestamptz not null
);

-- the outbox: one row per message to deliver, inserted by the triggers below in the
-- transaction that stores the fact it tells of, so that no service has to remember to send
-- it and a restart loses none. the id is the message's `webhook-id`, the same on every
-- attempt. the webhooks service claims due rows (next_attempt_at in the past), sends them,
-- and records each attempt; its claim pushes next_attempt_at ahead as a lease, so that a
-- message whose deliverer died is tried again. no foreign keys: tasks and results may be
-- kept apart.
create table webhook_deliveries (
    id varchar(255) collate "C" primary key,
    task_id varchar(255) not null,
    agent_id varchar(255) not null,
    user_id varchar(255) not null,
    event varchar(50) not null check (event in ('completed', 'running')),
    url text not null,
    -- for `running`: which attempt of the task started; null for `completed`.
    run_attempt integer,
    -- when what it tells of happened: the result's time, or the attempt's start.
    occurred_at timestamptz not null,
    -- the json body, built by the deliverer before its first attempt and sent unchanged on
    -- every retry.
    payload text,
    status varchar(50) not null default 'pending'
        check (status in ('pending', 'delivered', 'failed')),
    attempts integer not null default 0 check (attempts >= 0),
    next_attempt_at timestamptz not null,
    last_status_code integer,
    last_error text,
    created_at timestamptz not null,
    delivered_at timestamptz
);
create index idx_webhook_deliveries_task_id on webhook_deliveries (task_id, created_at);
-- what the deliverer claims: pending messages by due time.
create index idx_webhook_deliveries_due on webhook_deliveries (next_attempt_at)
    where status = 'pending';
create index idx_webhook_deliveries_created_at on webhook_deliveries (created_at);

-- every attempt at a delivery: when, what the receiver answered (or why there was no
-- answer), and how long it took.
create table webhook_attempts (
    delivery_id varchar(255) collate "C" not null
        references webhook_deliveries (id) on delete cascade,
    attempt integer not null check (attempt >= 1),
    attempted_at timestamptz not null,
    status_code integer,
    error text,
    duration_ms bigint not null,
    primary key (delivery_id, attempt)
);

-- a stored result is a `completed` event for a task whose subscription wants it.
create function enqueue_completed_webhook() returns trigger
language plpgsql as $$
begin
    insert into webhook_deliveries (id, task_id, agent_id, user_id, event, url, occurred_at,
        next_attempt_at, created_at)
    select 'msg_' || replace(gen_random_uuid()::text, '-', ''), new.task_id, new.agent_id,
        tasks.user_id, 'completed', tasks.webhook_url, new.created_at, new.created_at,
        new.created_at
    from tasks
    where tasks.id = new.task_id
        and tasks.webhook_url is not null
        and 'completed' = any (string_to_array(tasks.webhook_events, ','));
    return null;
end;
$$;

create trigger task_results_enqueue_webhook
    after insert on task_results
    for each row execute function enqueue_completed_webhook();

-- a recorded start whose count of attempts grew is a `running` event. late or repeated
-- announcements do not grow the count (see record_starts), so they send nothing.
create function enqueue_running_webhook() returns trigger
language plpgsql as $$
begin
    if new.started_at is null or new.attempts < 1 then
        return null;
    end if;
    if tg_op = 'UPDATE' then
        if new.attempts <= old.attempts then
            return null;
        end if;
    end if;
    insert into webhook_deliveries (id, task_id, agent_id, user_id, event, url, run_attempt,
        occurred_at, next_attempt_at, created_at)
    select 'msg_' || replace(gen_random_uuid()::text, '-', ''), new.task_id, new.agent_id,
        tasks.user_id, 'running', tasks.webhook_url, new.attempts, new.started_at,
        new.started_at, new.started_at
    from tasks
    where tasks.id = new.task_id
        and tasks.webhook_url is not null
        and 'running' = any (string_to_array(tasks.webhook_events, ','));
    return null;
end;
$$;

create trigger task_runs_enqueue_webhook
    after insert or update of attempts on task_runs
    for each row execute function enqueue_running_webhook();
