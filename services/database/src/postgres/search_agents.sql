-- a page of the active agents that match $1, a tsquery, best first: the most recent $4
-- matches are ranked, and $2 of them are taken from $3 on, each with the number ranked.
-- weights are {{d, c, b, a}}: a name (a) counts most, then capabilities (b), then the
-- description (c), in the proportions the sqlite store gives bm25. the query stands in the
-- where clause itself, where the planner can take it to the gin index. only the page's
-- agents are read whole. the store fills in {agent_columns} with rust's format!, which is
-- why braces meant for sql are doubled.
with recent as (
    select a.id, a.seq, ts_rank('{{0, 0.1, 0.5, 1.0}}', a.search_document,
        to_tsquery('simple', $1)) as score
    from agents a
    where a.search_document @@ to_tsquery('simple', $1) and a.status = 'active'
    order by a.created_at desc, a.seq desc
    limit $4),
page as (
    select id, seq, score, count(*) over () as ranked from recent
    order by score desc, seq
    limit $2 offset $3)
select {agent_columns}, page.ranked
from page join agents a on a.id = page.id
left join agent_stats s on s.agent_id = a.id
order by page.score desc, page.seq
