-- only active agents are searched, so only active agents are kept in the full-text index.
-- a search then counts and ranks its matches in the index alone: checking each match's status
-- in agents took a row lookup per match, and the planner, given the join, could even start
-- from the status index and probe the full-text index once per agent (seconds at 100,000
-- agents). the 'delete' commands of an external-content index must repeat what was indexed,
-- so entries are removed with the values they were added with, and only if they were added.
-- (an fts5 'rebuild' would index every agent again, inactive ones too: never run one.)

drop trigger agents_fts_after_insert;
drop trigger agents_fts_after_delete;
drop trigger agents_fts_after_update;

create trigger agents_fts_after_insert after insert on agents when new.status = 'active' begin
    insert into agents_fts (rowid, name, description, capabilities)
    values (new.seq, new.name, new.description, new.capabilities);
end;

create trigger agents_fts_after_delete after delete on agents when old.status = 'active' begin
    insert into agents_fts (agents_fts, rowid, name, description, capabilities)
    values ('delete', old.seq, old.name, old.description, old.capabilities);
end;

-- one trigger, so that the old entry always goes before the new one comes.
create trigger agents_fts_after_update
after update of name, description, capabilities, status on agents begin
    insert into agents_fts (agents_fts, rowid, name, description, capabilities)
    select 'delete', old.seq, old.name, old.description, old.capabilities
    where old.status = 'active';
    insert into agents_fts (rowid, name, description, capabilities)
    select new.seq, new.name, new.description, new.capabilities
    where new.status = 'active';
end;

-- until now every agent was indexed with its current values: take out the inactive ones.
insert into agents_fts (agents_fts, rowid, name, description, capabilities)
select 'delete', seq, name, description, capabilities from agents where status <> 'active';
