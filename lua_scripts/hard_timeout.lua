-- hard_timeout: an attempt ran past its hard timeout (running -> dead_lettered).
-- Run by the pool parent when billiard reports TimeLimitExceeded (before it kills the pool
-- process), or in-process by threads and solo pools, which cannot end a body.
-- KEYS[1] record hash        KEYS[2] attempt history   KEYS[3] dead-letter index (zset)
-- KEYS[4] event stream       KEYS[5] held set of the process running the attempt
-- KEYS[6] idempotency key (released; any unused key when the task is not idempotent)
-- KEYS[7] SLO counters (rl:slo)
-- ARGV[1] delivery tag of the copy   ARGV[2] event stream cap   ARGV[3] task id
-- ARGV[4] the hard timeout in seconds (for the error text)      ARGV[5] process id
-- Returns 'ok', or 'stale' (the copy is not the running one any more).
-- Guarantees: the fence is bumped first, so whatever the body still writes (result, failure,
-- checkpoint) is rejected; the task ends as a dead letter, never as a resurrection.
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'running' or ARGV[1] ~= ticket_tag(ARGV[3], redis.call('HGET', KEYS[1], 'ticket')) then
  return 'stale'
end
local now = now_ms()
local fence = redis.call('HINCRBY', KEYS[1], 'fence', 1)
local attempt = redis.call('HGET', KEYS[1], 'attempt')
redis.call('HDEL', KEYS[1], 'holder')
redis.call('SREM', KEYS[5], ARGV[3])
local text = 'ran past its hard timeout of ' .. ARGV[4] .. ' s'
redis.call('HSET', KEYS[1], 'state', 'dead_lettered', 'reason', 'hard_timeout', 'exc_type', '',
  'error', text, 'traceback', '', 'ended', now, 'updated', now)
redis.call('RPUSH', KEYS[2], cjson.encode({event = 'hard_timeout', attempt = tonumber(attempt),
  worker = ARGV[5], ts = now}))
redis.call('ZADD', KEYS[3], now, ARGV[3])
release_claim(KEYS[6], ARGV[3])
count_outcome(KEYS[7], redis.call('HGET', KEYS[1], 'name'), false, now)
emit(KEYS[4], ARGV[2], 'timed_out', ARGV[3], {'attempt', attempt, 'fence', fence,
  'worker', ARGV[5], 'ts', now})
emit(KEYS[4], ARGV[2], 'dead_lettered', ARGV[3], {'reason', 'hard_timeout', 'ts', now})
return 'ok'
