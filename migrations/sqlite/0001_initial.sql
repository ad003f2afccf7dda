-- bazaar's schema for embedded mode (sqlite).
-- each table has exactly one writing service: users, api_tokens, agents and tasks belong to
-- the gateway; task_results and agent_stats to the results service.

create table users (
    id text primary key,
    username text not null unique,
    -- argon2id in phc string format
    password_hash text not null,
    created_at text not null
);

-- bearer tokens are stored only as their sha-256, so a leaked database leaks no tokens.
create table api_tokens (
    token_hash text primary key,
    user_id text not null references users (id) on delete cascade,
    created_at text not null,
    expires_at text not null
);
create index idx_api_tokens_user_id on api_tokens (user_id);

create table agents (
    -- a stable integer key for the full-text index (a plain rowid may change on vacuum)
    seq integer primary key,
    id text not null unique,
    user_id text not null references users (id) on delete cascade,
    name text not null,
    description text not null,
    version text not null,
    -- json array of capability tags
    capabilities text not null,
    status text not null default 'active',
    -- the original decimal(10,2), kept as whole cents
    price_cents integer not null default 0,
    binary_url text not null,
    binary_hash text not null,
    binary_size integer not null,
    rating real not null default 0.0,
    created_at text not null,
    updated_at text not null,
    unique (user_id, name, version)
);
create index idx_agents_user_id on agents (user_id);
create index idx_agents_status on agents (status);
create index idx_agents_rating on agents (rating);
create index idx_agents_created_at on agents (created_at);

-- ranked full-text search over name, description and capabilities (an external-content
-- index over agents, kept in step by the triggers below).
create virtual table agents_fts using fts5 (
    name, description, capabilities,
    content = 'agents',
    content_rowid = 'seq',
    tokenize = 'unicode61 remove_diacritics 2'
);

create trigger agents_fts_after_insert after insert on agents begin
    insert into agents_fts (rowid, name, description, capabilities)
    values (new.seq, new.name, new.description, new.capabilities);
end;

create trigger agents_fts_after_delete after delete on agents begin
    insert into agents_fts (agents_fts, rowid, name, description, capabilities)
    values ('delete', old.seq, old.name, old.description, old.capabilities);
end;

create trigger agents_fts_after_update after update of name, description, capabilities on agents begin
    insert into agents_fts (agents_fts, rowid, name, description, capabilities)
    values ('delete', old.seq, old.name, old.description, old.capabilities);
    insert into agents_fts (rowid, name, description, capabilities)
    values (new.seq, new.name, new.description, new.capabilities);
end;

create table tasks (
    id text primary key,
    agent_id text not null references agents (id),
    user_id text not null references users (id),
    input_size integer not null,
    timeout_ms integer not null,
    created_at text not null
);
create index idx_tasks_user_id on tasks (user_id, created_at);

-- no foreign keys here: the results service owns these tables and may run apart from the
-- gateway's.
create table task_results (
    task_id text primary key,
    agent_id text not null,
    user_id text not null,
    status text not null,
    exit_code integer not null,
    stdout blob not null,
    stderr blob not null,
    stdout_truncated integer not null default 0,
    stderr_truncated integer not null default 0,
    duration_ms integer not null,
    error text,
    created_at text not null
);
create index idx_task_results_agent_id on task_results (agent_id, created_at);
create index idx_task_results_user_id on task_results (user_id, created_at);
create index idx_task_results_created_at on task_results (created_at);

create table agent_stats (
    agent_id text primary key,
    tasks_completed integer not null default 0,
    succeeded integer not null default 0,
    failed integer not null default 0,
    timed_out integer not null default 0,
    total_duration_ms integer not null default 0,
    last_run_at text
);
