-- reviews: one per user and agent (posting again replaces it), by a user who ran the agent
-- successfully (checked by the gateway, which writes them). an agent's rating is the mean of
-- its reviews and rating_count their number, kept by the triggers below.
create table reviews (
    agent_id text not null references agents (id) on delete cascade,
    user_id text not null references users (id) on delete cascade,
    rating integer not null check (rating between 1 and 5),
    text text not null default '' check (length(text) <= 2000),
    created_at text not null,
    updated_at text not null,
    primary key (agent_id, user_id)
);
create index idx_reviews_agent_id on reviews (agent_id, updated_at desc, user_id);

alter table agents add column rating_count integer not null default 0;

create trigger reviews_rate_agent_after_insert after insert on reviews begin
    update agents set
        rating = (select round(avg(rating), 2) from reviews where agent_id = new.agent_id),
        rating_count = (select count(*) from reviews where agent_id = new.agent_id)
    where id = new.agent_id;
end;

create trigger reviews_rate_agent_after_update after update of rating on reviews begin
    update agents set
        rating = (select round(avg(rating), 2) from reviews where agent_id = new.agent_id),
        rating_count = (select count(*) from reviews where agent_id = new.agent_id)
    where id = new.agent_id;
end;
