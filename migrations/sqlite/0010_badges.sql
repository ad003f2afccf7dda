-- what an agent's module imports, as badges (a json array of names such as "clock" or
-- "deterministic"), read at publication. null for agents published before: not analysed.
alter table agents add column badges text;
