-- reject: a delivered copy that must never run is dead-lettered before any attempt starts
-- (queued/reserved -> dead_lettered): its arguments failed to migrate, its version is too new,
-- or no worker knows its task name.
-- KEYS[1] record hash        KEYS[2] attempt history   KEYS[3] dead-letter index (zset)
-- KEYS[4] event stream      KEYS[5] held set of the worker's consumer (rl:held:<node>)
-- KEYS[6] queued index (rl:queued)   KEYS[7] idempotency key (released; any unused key if none)
-- KEYS[8] SLO counters (rl:slo)
-- ARGV[1] delivery tag of the copy   ARGV[2] reason    ARGV[3] error text
-- ARGV[4] event stream cap           ARGV[5] task id
-- Returns 'ok' (also for a retry that finds its own rejection), 'stale' (not the live copy, or
-- already started or ended) or 'missing'.
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  return 'missing'
end
local ticket = redis.call('HGET', KEYS[1], 'ticket')
if state == 'dead_lettered' and ARGV[1] == ticket_tag(ARGV[5], ticket)
    and redis.call('HGET', KEYS[1], 'reason') == ARGV[2] then
  return 'ok'  -- a retry after a lost reply
end
if ARGV[1] ~= ticket_tag(ARGV[5], ticket) or (state ~= 'queued' and state ~= 'reserved') then
  return 'stale'
end
local now = now_ms()
redis.call('HSET', KEYS[1], 'state', 'dead_lettered', 'reason', ARGV[2], 'error', ARGV[3],
  'exc_type', '', 'traceback', '', 'ended', now, 'updated', now)
redis.call('HDEL', KEYS[1], 'holder')
redis.call('SREM', KEYS[5], ARGV[5])
redis.call('ZREM', KEYS[6], ARGV[5])
redis.call('RPUSH', KEYS[2], cjson.encode({event = 'rejected', ts = now, reason = ARGV[2],
  error = ARGV[3]}))
redis.call('ZADD', KEYS[3], now, ARGV[5])
release_claim(KEYS[7], ARGV[5])
count_outcome(KEYS[8], redis.call('HGET', KEYS[1], 'name'), false, now)
emit(KEYS[4], ARGV[4], 'dead_lettered', ARGV[5], {'reason', ARGV[2], 'ts', now})
return 'ok'
