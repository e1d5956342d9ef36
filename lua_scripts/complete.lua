-- complete: the body returned and its result is stored (running -> completed).
-- KEYS[9] record            KEYS[10] history
-- KEYS[11] process_held     rl:held:<process> of the process that ran the attempt
-- KEYS[12] idem             the idempotency key (any unused key when the task is not idempotent)
-- ARGV[2] fence             the fence of the attempt
-- ARGV[3] result            the encoded result (msgpack bytes)
-- ARGV[4] result_ttl_ms     how long the completed record and history are kept
-- ARGV[5] task_id
-- ARGV[6] runtime_ms        the run time measured by the pool process
-- ARGV[7] idem_ttl_ms       how long a completed idempotency key is kept ('' when not idempotent)
-- Returns {'ok', ''} ({'ok', 'again'} for a retry that finds its own completion) or
-- {'stale', state} when this attempt no longer holds the current fence.
-- Guarantees: at most one completion per task; a fenced-off attempt's result is dropped.
local rec, hist, process_held, idem = KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local id = ARGV[5]
local state = redis.call('HGET', rec, 'state')
if not state then
  return {'missing', ''}
end
local fence = redis.call('HGET', rec, 'fence')
if state == 'completed' and fence == ARGV[2] then
  return {'ok', 'again'}  -- a retry after a lost reply; every takeover bumps the fence first
end
if state ~= 'running' or fence ~= ARGV[2] then
  emit('rejected_write', id, {'fence', ARGV[2], 'write', 'complete'})
  return {'stale', state}
end
local now = now_ms()
local attempt = redis.call('HGET', rec, 'attempt')
redis.call('HSET', rec, 'state', 'completed', 'result', ARGV[3], 'ended', now, 'updated', now)
redis.call('HDEL', rec, 'holder')
redis.call('SREM', process_held, id)
redis.call('RPUSH', hist, cjson.encode({event = 'completed', attempt = tonumber(attempt),
  fence = tonumber(fence), ts = now, runtime_ms = tonumber(ARGV[6])}))
redis.call('PEXPIRE', rec, ARGV[4])
redis.call('PEXPIRE', hist, ARGV[4])
count_outcome(redis.call('HGET', rec, 'name'), true, now)
if ARGV[7] ~= '' and redis.call('HGET', idem, 'task') == id then
  redis.call('HSET', idem, 'state', 'completed', 'result', ARGV[3])
  redis.call('PEXPIRE', idem, ARGV[7])
end
emit('completed', id, {'attempt', attempt, 'fence', fence, 'runtime_ms', ARGV[6], 'ts', now})
return {'ok', ''}
