-- complete: the body returned and its result is stored (running -> completed).
-- KEYS[9] record            KEYS[10] history
-- KEYS[11] process_held     rl:held:<process> of the process that ran the attempt
-- KEYS[12] idem             the idempotency key (any unused key when the task is not idempotent)
-- KEYS[13] chord            rl:chord:<group id> of a chord header task (any unused key if none)
-- KEYS[14..] per created task, in ARGV order: record, list, idem
-- ARGV[2] fence             the fence of the attempt
-- ARGV[3] result            the encoded result (msgpack bytes)
-- ARGV[4] result_ttl_ms     how long the completed record and history are kept
-- ARGV[5] task_id
-- ARGV[6] runtime_ms        the run time measured by the pool process (the end time is the
--                           attempt's `started` plus this: no TIME call)
-- ARGV[7] idem_ttl_ms       how long a completed idempotency key is kept ('' when not idempotent)
-- ARGV[8] chord_index       this header task's index in its chord ('' when not in a chord)
-- ARGV[9] creates           how many continuations to create (a chain's next step, callbacks)
-- ARGV[10] replaced_by      the task whose result this task's result is (`self.replace()`),
--                           created with it among `creates`; '' for a task that returned
-- ARGV[11..] created tasks  CREATE_ARGS each (see created_at); after the `creates`
--                           continuations, a chord header task's join, created when this
--                           completion is the chord's last
-- Returns {'ok', ''} ({'ok', 'again'} for a retry that finds its own completion) or
-- {'stale', state} when this attempt no longer holds the current fence.
-- Guarantees: at most one completion per task; a fenced-off attempt's result is dropped; its
-- continuations are created with it, in the same script, so a chain continues exactly once
-- (a continuation's id is frozen: one created earlier is never created again).
local rec, hist, process_held, idem = KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local id = ARGV[5]
local r = redis.call('HMGET', rec, 'state', 'fence', 'attempt', 'name', 'holder', 'history',
  'started')
local state, fence, attempt = r[1], r[2], r[3]
if not state then
  return {'missing', ''}
end
if state == 'completed' and fence == ARGV[2] then
  return {'ok', 'again'}  -- a retry after a lost reply; every takeover bumps the fence first
end
if state ~= 'running' or fence ~= ARGV[2] then
  emit('rejected_write', id, 'fence', ARGV[2], 'write', 'complete')
  return {'stale', state}
end
-- the end in server time: the attempt's server start plus the run time its process measured
local now = tonumber(r[7] or '0') + tonumber(ARGV[6])
if now == tonumber(ARGV[6]) then
  now = now_ms()  -- a record written before `started` was kept
end
-- the attempt's history is the record's own fields (Store.history reads them)
redis.call('HSET', rec, 'state', 'completed', 'result', ARGV[3], 'ended', now, 'updated', now,
  'process', r[5] or '', 'runtime_ms', ARGV[6], 'holder', '')
if ARGV[10] ~= '' then
  redis.call('HSET', rec, 'replaced_by', ARGV[10])
end
redis.call('SREM', process_held, id)
redis.call('PEXPIRE', rec, ARGV[4])
if r[6] then
  redis.call('PEXPIRE', hist, ARGV[4])
end
count_outcome(r[4], true, now)
if ARGV[7] ~= '' and redis.call('HGET', idem, 'task') == id then
  redis.call('HSET', idem, 'state', 'completed', 'result', ARGV[3])
  redis.call('PEXPIRE', idem, ARGV[7])
end
emit('completed', id, 'attempt', attempt, 'fence', fence, 'runtime_ms', ARGV[6], 'ts', now)
local creates = tonumber(ARGV[9])
create_continuations(14, 11, creates, now, ARGV[4])
if ARGV[8] ~= '' and chord_part(KEYS[13], ARGV[8], ARGV[3], nil, nil, now, ARGV[4]) then
  create_continuation(created_at(14, 11, creates + 1), now, ARGV[4])
end
return {'ok', ''}
