-- promote: a deferred (scheduled) task is due: push it to its queue again (scheduled -> queued).
-- KEYS[1] record hash        KEYS[2] the list its copies go to (the record's `list`)
-- KEYS[3] delayed set (rl:delayed)   KEYS[4] queued index (rl:queued)   KEYS[5] event stream
-- ARGV[1] task id            ARGV[2] event stream cap
-- Returns 'queued', 'not_due' or 'skip' (not scheduled any more).
-- Guarantees: one copy per promotion, with the ticket the deferral rotated; two resurrectors
-- promoting the same task push it once.
local now = now_ms()
local due = redis.call('ZSCORE', KEYS[3], ARGV[1])
if redis.call('HGET', KEYS[1], 'state') ~= 'scheduled' then
  redis.call('ZREM', KEYS[3], ARGV[1])
  return 'skip'
end
if not due or tonumber(due) > now then
  return 'not_due'
end
local fields = redis.call('HMGET', KEYS[1], 'head', 'tail', 'ticket')
redis.call('LPUSH', KEYS[2], fields[1] .. ticket_tag(ARGV[1], fields[3]) .. fields[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[4], now, ARGV[1])
redis.call('HINCRBY', KEYS[1], 'deliveries', 1)
redis.call('HSET', KEYS[1], 'state', 'queued', 'updated', now)
redis.call('HDEL', KEYS[1], 'due')
emit(KEYS[5], ARGV[2], 'promoted', ARGV[1], {'ts', now})
return 'queued'
