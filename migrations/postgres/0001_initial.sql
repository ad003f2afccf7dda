-- bazaar's schema for distributed mode (postgresql).
-- each table has exactly one writing service: users, api_tokens, agents and tasks belong to
-- the gateway; task_results and agent_stats to the results service.
-- column names and types follow the original schema where it had them; the sqlite schema of
-- embedded mode holds the same records.

create table users (
    id varchar(255) primary key,
    username varchar(255) not null unique,
    -- argon2id in phc string format
    password_hash text not null,
    created_at timestamptz not null default now()
);

-- bearer tokens are stored only as their sha-256, so a leaked database leaks no tokens.
create table api_tokens (
    token_hash text primary key,
    user_id varchar(255) not null references users (id) on delete cascade,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null
);
create index idx_api_tokens_user_id on api_tokens (user_id);

create table agents (
    id varchar(255) primary key,
    -- insertion order, the tie-breaker of every listing (as sqlite's seq)
    seq bigint generated always as identity,
    user_id varchar(255) not null references users (id) on delete cascade,
    name varchar(255) not null,
    description text not null,
    -- the original varchar(50) is shorter than the 64 characters a version may have
    version varchar(64) not null,
    -- json array of capability tags, in the order given
    capabilities jsonb not null default '[]'
        check (jsonb_typeof(capabilities) = 'array'),
    status varchar(50) not null default 'active'
        check (status in ('active', 'inactive')),
    price decimal(10, 2) not null default 0 check (price >= 0),
    binary_url text not null,
    binary_hash varchar(64) not null,
    binary_size bigint not null,
    -- a copy of agent_stats.tasks_completed, kept by the trigger below for readers of this
    -- table; the stores themselves read agent_stats, which the results service writes.
    tasks_completed bigint not null default 0,
    rating decimal(3, 2) not null default 0 check (rating between 0 and 5),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    -- ranked full-text search: a match in the name weighs most (a), then capabilities (b),
    -- then the description (c). the 'simple' configuration neither stems nor drops stop
    -- words, so every prefix of a word matches ("jso" finds "json-format"). punctuation is
    -- turned into spaces first, so that a word is a run of letters and digits, as the stores
    -- split queries and as sqlite's tokenizer splits text: "txt" finds "file.txt".
    search_document tsvector generated always as (
        setweight(to_tsvector('simple', regexp_replace(name, '[[:punct:][:space:]]+', ' ', 'g')), 'A')
        || setweight(to_tsvector('simple', regexp_replace(capabilities::text, '[[:punct:][:space:]]+', ' ', 'g')), 'B')
        || setweight(to_tsvector('simple', regexp_replace(description, '[[:punct:][:space:]]+', ' ', 'g')), 'C')
    ) stored,
    unique (user_id, name, version)
);
create index idx_agents_user_id on agents (user_id);
create index idx_agents_status on agents (status);
create index idx_agents_rating on agents (rating);
create index idx_agents_created_at on agents (created_at, seq);
create index idx_agents_capabilities on agents using gin (capabilities jsonb_path_ops);
create index idx_agents_search_document on agents using gin (search_document);

create table tasks (
    id varchar(255) primary key,
    agent_id varchar(255) not null references agents (id),
    user_id varchar(255) not null references users (id),
    input_size bigint not null,
    timeout_ms bigint not null,
    created_at timestamptz not null
);
create index idx_tasks_user_id on tasks (user_id, created_at);

-- no foreign keys here: the results service owns these tables and may run apart from the
-- gateway's.
create table task_results (
    -- byte order, so that listings break ties between equal times the same way everywhere
    task_id varchar(255) collate "C" primary key,
    agent_id varchar(255) not null,
    user_id varchar(255) not null,
    status varchar(50) not null check (status in ('succeeded', 'failed', 'timed_out')),
    exit_code integer not null,
    stdout bytea not null,
    stderr bytea not null,
    stdout_truncated boolean not null default false,
    stderr_truncated boolean not null default false,
    duration_ms bigint not null,
    error text,
    created_at timestamptz not null default now()
);
create index idx_task_results_agent_id on task_results (agent_id, created_at);
create index idx_task_results_user_id on task_results (user_id, created_at);
create index idx_task_results_created_at on task_results (created_at);

create table agent_stats (
    agent_id varchar(255) primary key,
    tasks_completed bigint not null default 0,
    succeeded bigint not null default 0,
    failed bigint not null default 0,
    timed_out bigint not null default 0,
    total_duration_ms bigint not null default 0,
    last_run_at timestamptz
);

-- keeps agents.tasks_completed equal to agent_stats.tasks_completed, in the transaction that
-- counts the results. an agent kept in another database (the results service apart from the
-- gateway's) is simply not found here.
create function copy_tasks_completed_to_agent() returns trigger
language plpgsql as $$
begin
    update agents set tasks_completed = new.tasks_completed where id = new.agent_id;
    return null;
end;
$$;

create trigger agent_stats_copy_tasks_completed
    after insert or update of tasks_completed on agent_stats
    for each row execute function copy_tasks_completed_to_agent();
