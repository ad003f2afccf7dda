-- reviews: one per user and agent (posting again replaces it), by a user who ran the agent
-- successfully (checked by the gateway, which writes them). an agent's rating is the mean of
-- its reviews and rating_count their number, kept by the trigger below in the transaction
-- that writes a review, so that listings sort and filter on them without reading reviews.
create table reviews (
    agent_id varchar(255) not null references agents (id) on delete cascade,
    user_id varchar(255) not null references users (id) on delete cascade,
    rating smallint not null check (rating between 1 and 5),
    text text not null default '' check (char_length(text) <= 2000),
    created_at timestamptz not null,
    updated_at timestamptz not null,
    primary key (agent_id, user_id)
);
create index idx_reviews_agent_id on reviews (agent_id, updated_at desc, user_id);

alter table agents add column rating_count bigint not null default 0;

create function rate_agent_from_reviews() returns trigger
language plpgsql as $$
begin
    update agents set
        rating = coalesce((select round(avg(rating), 2) from reviews where agent_id = new.agent_id), 0),
        rating_count = (select count(*) from reviews where agent_id = new.agent_id)
    where id = new.agent_id;
    return null;
end;
$$;

create trigger reviews_rate_agent
    after insert or update of rating on reviews
    for each row execute function rate_agent_from_reviews();
