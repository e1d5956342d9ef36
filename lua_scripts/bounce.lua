-- bounce: a worker got a copy it cannot run yet (its envelope version is newer than the
-- worker's code, or no task of that name is registered here): send it back through the
-- delayed set for a worker that can (queued/reserved -> scheduled), or dead-letter it after
-- too many bounces (queued/reserved -> dead_lettered).
-- KEYS[1] record hash        KEYS[2] attempt history   KEYS[3] delayed set (rl:delayed)
-- KEYS[4] queued index       KEYS[5] dead-letter index KEYS[6] event stream
-- KEYS[7] held set of the worker's consumer        KEYS[8] idempotency key (any unused key)
-- KEYS[9] SLO counters (rl:slo)
-- ARGV[1] delivery tag of the copy   ARGV[2] reason if dead-lettered   ARGV[3] error text
-- ARGV[4] delay before the copy is pushed again, ms    ARGV[5] most bounces before the DLQ
-- ARGV[6] event stream cap   ARGV[7] task id       ARGV[8] worker node
-- Returns 'scheduled', 'dead_lettered' or 'stale'.
-- Guarantees: the copy is never dropped: it waits (ticket rotated, so this copy is stale) or
-- lands in the dead letters with its reason.
local state = redis.call('HGET', KEYS[1], 'state')
if (state ~= 'queued' and state ~= 'reserved')
    or ARGV[1] ~= ticket_tag(ARGV[7], redis.call('HGET', KEYS[1], 'ticket')) then
  return 'stale'
end
local now = now_ms()
local bounces = redis.call('HINCRBY', KEYS[1], 'bounces', 1)
redis.call('HDEL', KEYS[1], 'holder')
redis.call('SREM', KEYS[7], ARGV[7])
redis.call('ZREM', KEYS[4], ARGV[7])
redis.call('RPUSH', KEYS[2], cjson.encode({event = 'bounced', worker = ARGV[8], ts = now,
  reason = ARGV[2], error = ARGV[3]}))
if bounces > tonumber(ARGV[5]) then
  local task = {id = ARGV[7], rec = KEYS[1], hist = KEYS[2], list = '', idem = KEYS[8]}
  local shared = {dlq = KEYS[5], events = KEYS[6], maxlen = ARGV[6], queued = KEYS[4],
    slo = KEYS[9]}
  return bury(task, shared, now, ARGV[2], ARGV[3] .. ' (bounced ' .. bounces .. ' times)',
    ARGV[8], '')
end
local due = now + tonumber(ARGV[4])
redis.call('HINCRBY', KEYS[1], 'ticket', 1)
redis.call('HSET', KEYS[1], 'state', 'scheduled', 'due', due, 'updated', now)
redis.call('ZADD', KEYS[3], due, ARGV[7])
emit(KEYS[6], ARGV[6], 'bounced', ARGV[7], {'worker', ARGV[8], 'reason', ARGV[2], 'due', due,
  'ts', now})
return 'scheduled'
