-- checkpoint: the running attempt saves partial progress for a later attempt (running).
-- KEYS[9] record
-- ARGV[2] fence             the fence of the attempt
-- ARGV[3] encoded           the checkpoint (msgpack bytes)
-- ARGV[4] task_id
-- Returns 'ok', or 'stale' when the attempt no longer holds the current fence.
-- Guarantees: fenced: a paused or timed-out attempt can never overwrite a newer attempt's
-- checkpoint. The checkpoint stays in the record, dead letter included, until the task ends.
local rec, id = KEYS[9], ARGV[4]
local state = redis.call('HGET', rec, 'state')
if state ~= 'running' or redis.call('HGET', rec, 'fence') ~= ARGV[2] then
  emit('rejected_write', id, 'fence', ARGV[2], 'write', 'checkpoint')
  return 'stale'
end
local now = now_ms()
redis.call('HSET', rec, 'partial', ARGV[3], 'partial_fence', ARGV[2], 'partial_at', now,
  'updated', now)
emit('checkpointed', id, 'fence', ARGV[2], 'bytes', #ARGV[3], 'ts', now)
return 'ok'
