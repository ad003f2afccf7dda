-- what an agent's module imports, as badges (a json array of names such as "clock" or
-- "deterministic"), read at publication. null for agents published before: not analysed.
alter table agents add column badges jsonb check (badges is null or jsonb_typeof(badges) = 'array');
create index idx_agents_badges on agents using gin (badges jsonb_path_ops);
