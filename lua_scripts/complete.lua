-- complete: the body returned and its result is stored (running -> completed).
-- KEYS[1] record hash        KEYS[2] attempt history   KEYS[3] event stream
-- KEYS[4] held set of the process that ran the attempt
-- KEYS[5] idempotency key (any unused key when the task is not idempotent)
-- KEYS[6] SLO counters (rl:slo)
-- ARGV[1] fence of the attempt                    ARGV[2] encoded result (msgpack bytes)
-- ARGV[3] result TTL in seconds                   ARGV[4] event stream cap
-- ARGV[5] task id            ARGV[6] run time in ms (measured by the pool process)
-- ARGV[7] TTL in seconds of a completed idempotency key ('' when not idempotent)
-- Returns {'ok', ''} ({'ok', 'again'} for a retry that finds its own completion) or
-- {'stale', state} when this attempt no longer holds the current fence.
-- Guarantees: at most one completion per task; a fenced-off attempt's result is dropped.
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  return {'missing', ''}
end
local fence = redis.call('HGET', KEYS[1], 'fence')
if state == 'completed' and fence == ARGV[1] then
  return {'ok', 'again'}  -- a retry after a lost reply; every takeover bumps the fence first
end
if state ~= 'running' or fence ~= ARGV[1] then
  emit(KEYS[3], ARGV[4], 'rejected_write', ARGV[5], {'fence', ARGV[1], 'write', 'complete'})
  return {'stale', state}
end
local now = now_ms()
local attempt = redis.call('HGET', KEYS[1], 'attempt')
redis.call('HSET', KEYS[1], 'state', 'completed', 'result', ARGV[2], 'ended', now,
  'updated', now)
redis.call('HDEL', KEYS[1], 'holder')
redis.call('SREM', KEYS[4], ARGV[5])
redis.call('RPUSH', KEYS[2], cjson.encode({event = 'completed', attempt = tonumber(attempt),
  fence = tonumber(fence), ts = now, runtime_ms = tonumber(ARGV[6])}))
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
count_outcome(KEYS[6], redis.call('HGET', KEYS[1], 'name'), true, now)
if ARGV[7] ~= '' and redis.call('HGET', KEYS[5], 'task') == ARGV[5] then
  redis.call('HSET', KEYS[5], 'state', 'completed', 'result', ARGV[2])
  redis.call('EXPIRE', KEYS[5], ARGV[7])
end
emit(KEYS[3], ARGV[4], 'completed', ARGV[5],
  {'attempt', attempt, 'fence', fence, 'runtime_ms', ARGV[6], 'ts', now})
return {'ok', ''}
