-- hard_timeout: an attempt ran past its hard timeout (running -> dead_lettered).
-- Run by the pool parent when billiard reports TimeLimitExceeded (before it kills the pool
-- process), or in-process by threads and solo pools, which cannot end a body.
-- KEYS[9] record            KEYS[10] history
-- KEYS[11] process_held     rl:held:<process> of the process running the attempt
-- KEYS[12] idem             the idempotency key (released; any unused key when not idempotent)
-- KEYS[13] chord            rl:chord:<group id> of a chord header task (any unused key if none)
-- KEYS[14..] per created task, in ARGV order: record, list, idem
-- ARGV[2] tag               the delivery tag of the copy
-- ARGV[3] task_id
-- ARGV[4] timeout_ms        the hard timeout (for the error text)
-- ARGV[5] process
-- ARGV[6] chord_index       this header task's index in its chord ('' when not in a chord)
-- ARGV[7] result_ttl_ms     how long a chord's state and a failed continuation are kept
-- ARGV[8] creates           the task's errbacks, created with the dead letter
-- ARGV[9..] created tasks   CREATE_ARGS each (see created_at): the errbacks, then a chord
--                           header task's join, created at the chord's first failure
-- Returns 'ok', or 'stale' (the copy is not the running one any more).
-- Guarantees: the fence is bumped first, so whatever the body still writes (result, failure,
-- checkpoint) is rejected; the task ends as a dead letter, never as a resurrection; its
-- errbacks and its chord's join are created with the dead letter, as fail.lua does.
local rec, id = KEYS[9], ARGV[3]
local state = redis.call('HGET', rec, 'state')
if state ~= 'running' or ARGV[2] ~= ticket_tag(id, redis.call('HGET', rec, 'ticket')) then
  return 'stale'
end
local now = now_ms()
local task = {id = id, rec = rec, hist = KEYS[10], idem = KEYS[12]}
local fence = redis.call('HINCRBY', rec, 'fence', 1)
local attempt = redis.call('HGET', rec, 'attempt')
redis.call('SREM', KEYS[11], id)
remember(task, {event = 'hard_timeout', attempt = tonumber(attempt), worker = ARGV[5], ts = now})
emit('timed_out', id, 'attempt', attempt, 'fence', fence, 'worker', ARGV[5], 'ts', now)
local error = 'ran past its hard timeout of ' .. string.format('%g', tonumber(ARGV[4]) / 1000)
  .. ' s'
bury(task, now, {reason = 'hard_timeout', error = error}, {})
dead_letter_continuations(KEYS[13], ARGV[6], id, 'TimeLimitExceeded: ' .. error, 14, 9,
  tonumber(ARGV[8]), now, ARGV[7])
return 'ok'
