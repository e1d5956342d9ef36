-- promote: a deferred (scheduled) task is due: push it to its queue again (scheduled -> queued).
-- KEYS[9] record            KEYS[10] list           the list its copies go to (its `list`)
-- ARGV[2] task_id
-- Returns 'queued', 'not_due' or 'skip' (not scheduled any more).
-- Guarantees: one copy per promotion, with the ticket the deferral rotated; two resurrectors
-- promoting the same task push it once.
local rec, id = KEYS[9], ARGV[2]
local now = now_ms()
local due = redis.call('ZSCORE', DELAYED, id)
if redis.call('HGET', rec, 'state') ~= 'scheduled' then
  redis.call('ZREM', DELAYED, id)
  return 'skip'
end
if not due or tonumber(due) > now then
  return 'not_due'
end
redis.call('LPUSH', KEYS[10], stored_element(rec, ticket_tag(id, redis.call('HGET', rec, 'ticket'))))
redis.call('ZREM', DELAYED, id)
redis.call('ZADD', QUEUED, now, id)
redis.call('HINCRBY', rec, 'deliveries', 1)
redis.call('HSET', rec, 'state', 'queued', 'updated', now)
redis.call('HDEL', rec, 'due')
emit('promoted', id, 'ts', now)
return 'queued'
