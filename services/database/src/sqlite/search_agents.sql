-- a page of the active agents that match $1, an fts5 query, best first: the most recent
-- $2 matches are ranked, and $3 of them are taken from $4 on. bm25 weighs a match in the
-- name (10) above one in the capabilities (5) and in the description (1). only the page's
-- agents are read from their table. {agent_columns} is filled in by the store.
select {agent_columns} from (
    select rowid, score from (
        select rowid, bm25(agents_fts, 10.0, 1.0, 5.0) as score from agents_fts
        where agents_fts match $1 order by rowid desc limit $2)
    order by score, rowid limit $3 offset $4) m
cross join agents a on a.seq = m.rowid
left join agent_stats s on s.agent_id = a.id
order by m.score, m.rowid
