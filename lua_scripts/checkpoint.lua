-- checkpoint: the running attempt saves partial progress for a later attempt (running).
-- KEYS[1] record hash        KEYS[2] event stream
-- ARGV[1] fence of the attempt   ARGV[2] encoded checkpoint (msgpack bytes)
-- ARGV[3] event stream cap       ARGV[4] task id
-- Returns 'ok', or 'stale' when the attempt no longer holds the current fence.
-- Guarantees: fenced: a paused or timed-out attempt can never overwrite a newer attempt's
-- checkpoint. The checkpoint stays in the record, dead letter included, until the task ends.
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'running' or redis.call('HGET', KEYS[1], 'fence') ~= ARGV[1] then
  emit(KEYS[2], ARGV[3], 'rejected_write', ARGV[4], {'fence', ARGV[1], 'write', 'checkpoint'})
  return 'stale'
end
local now = now_ms()
redis.call('HSET', KEYS[1], 'partial', ARGV[2], 'partial_fence', ARGV[1], 'partial_at', now,
  'updated', now)
emit(KEYS[2], ARGV[3], 'checkpointed', ARGV[4], {'fence', ARGV[1], 'bytes', #ARGV[2], 'ts', now})
return 'ok'
