-- fail: the body raised, or its result could not be stored: schedule a retry
-- (running -> scheduled) while the task has retries left, else dead-letter it
-- (running -> dead_lettered).
-- KEYS[1] record hash        KEYS[2] attempt history   KEYS[3] dead-letter index (zset)
-- KEYS[4] event stream      KEYS[5] held set of the process that ran the attempt
-- KEYS[6] idempotency key (released; any unused key when the task is not idempotent)
-- KEYS[7] delayed set (rl:delayed)    KEYS[8] SLO counters (rl:slo)
-- ARGV[1] fence of the attempt   ARGV[2] reason         ARGV[3] exception type
-- ARGV[4] exception message      ARGV[5] traceback      ARGV[6] event stream cap
-- ARGV[7] task id                ARGV[8] run time in ms
-- ARGV[9] retries allowed for this failure (0: none, the exception is not retryable)
-- ARGV[10] delay before the retry, ms
-- Returns {'ok', 'scheduled'} or {'ok', 'dead_lettered'} ({'ok', 'again'} for a retry of this
-- call that finds its own write) or {'stale', state}.
-- Guarantees: only the current fence can end or reschedule the task; a retry is a new copy
-- (new ticket) pushed by the resurrector when due; the dead letter keeps the message, the last
-- error and the attempt history.
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  return {'missing', ''}
end
local fence = redis.call('HGET', KEYS[1], 'fence')
if (state == 'dead_lettered' or state == 'scheduled') and fence == ARGV[1]
    and redis.call('HGET', KEYS[1], 'failed_fence') == ARGV[1] then
  return {'ok', 'again'}  -- a retry after a lost reply; every takeover bumps the fence first
end
if state ~= 'running' or fence ~= ARGV[1] then
  emit(KEYS[4], ARGV[6], 'rejected_write', ARGV[7], {'fence', ARGV[1], 'write', 'fail'})
  return {'stale', state}
end
local now = now_ms()
local attempt = redis.call('HGET', KEYS[1], 'attempt')
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('HDEL', KEYS[1], 'holder')
redis.call('SREM', KEYS[5], ARGV[7])
redis.call('HSET', KEYS[1], 'failed_fence', ARGV[1], 'exc_type', ARGV[3], 'error', ARGV[4],
  'traceback', ARGV[5], 'updated', now)
redis.call('RPUSH', KEYS[2], cjson.encode({event = 'failed', attempt = tonumber(attempt),
  fence = tonumber(fence), ts = now, runtime_ms = tonumber(ARGV[8]), reason = ARGV[2],
  exc_type = ARGV[3], error = ARGV[4]}))
emit(KEYS[4], ARGV[6], 'failed', ARGV[7],
  {'attempt', attempt, 'fence', fence, 'exc_type', ARGV[3], 'ts', now})
if failures <= tonumber(ARGV[9]) then
  local due = now + tonumber(ARGV[10])
  redis.call('HINCRBY', KEYS[1], 'ticket', 1)
  redis.call('HSET', KEYS[1], 'state', 'scheduled', 'due', due)
  redis.call('ZADD', KEYS[7], due, ARGV[7])
  emit(KEYS[4], ARGV[6], 'retried', ARGV[7], {'failures', failures, 'due', due, 'ts', now})
  return {'ok', 'scheduled'}
end
redis.call('HSET', KEYS[1], 'state', 'dead_lettered', 'reason', ARGV[2], 'ended', now)
redis.call('ZADD', KEYS[3], now, ARGV[7])
release_claim(KEYS[6], ARGV[7])
count_outcome(KEYS[8], redis.call('HGET', KEYS[1], 'name'), false, now)
emit(KEYS[4], ARGV[6], 'dead_lettered', ARGV[7], {'reason', ARGV[2], 'ts', now})
return {'ok', 'dead_lettered'}
