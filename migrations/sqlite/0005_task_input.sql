-- a task keeps the input it was sent (at most http.max_input_bytes), so that it can be
-- replayed and its receipt can name it. tasks accepted before this migration have none.
alter table tasks add column input blob not null default x'';
