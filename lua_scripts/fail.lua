-- fail: the body raised, or its result could not be stored: schedule a retry
-- (running -> scheduled) while the task has retries left, else dead-letter it
-- (running -> dead_lettered).
-- KEYS[9] record            KEYS[10] history
-- KEYS[11] process_held     rl:held:<process> of the process that ran the attempt
-- KEYS[12] idem             the idempotency key (released; any unused key when not idempotent)
-- KEYS[13] chord            rl:chord:<group id> of a chord header task (any unused key if none)
-- KEYS[14..] per created task, in ARGV order: record, list, idem
-- ARGV[2] fence             ARGV[3] reason          ARGV[4] exc_type
-- ARGV[5] message           ARGV[6] traceback       ARGV[7] task_id
-- ARGV[8] runtime_ms
-- ARGV[9] retries           retries allowed for this failure (0: none, not retryable)
-- ARGV[10] retry_delay_ms   the delay before the retry
-- ARGV[11] chord_index      this header task's index in its chord ('' when not in a chord)
-- ARGV[12] result_ttl_ms    how long a chord's state and a failed continuation are kept
-- ARGV[13] creates          continuations created if the task is dead-lettered (errbacks)
-- ARGV[14..] created tasks  CREATE_ARGS each (see created_at); after the `creates`
--                           errbacks, a chord header task's join, created at the chord's
--                           first failure
-- Returns {'ok', 'scheduled'} or {'ok', 'dead_lettered'} ({'ok', 'again'} for a retry of this
-- call that finds its own write) or {'stale', state}.
-- Guarantees: only the current fence can end or reschedule the task; a retry is a new copy
-- (new ticket) pushed by the resurrector when due; the dead letter keeps the message, the last
-- error and the attempt history; errbacks and a chord's join are created with the dead letter.
local rec, hist, process_held, idem = KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local id = ARGV[7]
local task = {id = id, rec = rec, hist = hist, idem = idem}
local r = redis.call('HMGET', rec, 'state', 'fence', 'failed_fence', 'attempt')
local state, fence = r[1], r[2]
if not state then
  return {'missing', ''}
end
if (state == 'dead_lettered' or state == 'scheduled') and fence == ARGV[2]
    and r[3] == ARGV[2] then
  return {'ok', 'again'}  -- a retry after a lost reply; every takeover bumps the fence first
end
if state ~= 'running' or fence ~= ARGV[2] then
  emit('rejected_write', id, 'fence', ARGV[2], 'write', 'fail')
  return {'stale', state}
end
local now = now_ms()
local attempt = r[4]
local failures = redis.call('HINCRBY', rec, 'failures', 1)
remember(task, {event = 'failed', attempt = tonumber(attempt), fence = tonumber(fence),
  ts = now, runtime_ms = tonumber(ARGV[8]), reason = ARGV[3], exc_type = ARGV[4],
  error = ARGV[5]})
redis.call('HDEL', rec, 'holder')
redis.call('SREM', process_held, id)
redis.call('HSET', rec, 'failed_fence', ARGV[2], 'exc_type', ARGV[4], 'error', ARGV[5],
  'traceback', ARGV[6], 'updated', now)
emit('failed', id, 'attempt', attempt, 'fence', fence, 'exc_type', ARGV[4], 'ts', now)
if failures <= tonumber(ARGV[9]) then
  local due = now + tonumber(ARGV[10])
  schedule(task, now, due)
  emit('retried', id, 'failures', failures, 'due', due, 'ts', now)
  return {'ok', 'scheduled'}
end
bury(task, now, {reason = ARGV[3], exc_type = ARGV[4], error = ARGV[5], traceback = ARGV[6]}, {})
dead_letter_continuations(KEYS[13], ARGV[11], id, ARGV[4] .. ': ' .. ARGV[5], 14, 14,
  tonumber(ARGV[13]), now, ARGV[12])
return {'ok', 'dead_lettered'}
