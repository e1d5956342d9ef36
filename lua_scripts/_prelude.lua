-- Shared by every script: relier/scripts.py prepends this file before loading each one.
-- The contract (relier/store/contract.py builds it; tests/unit/test_script_contract.py checks
-- every header against it): every script receives the same shared keys first, in the same
-- positions, and the event stream cap first; its own keys and arguments follow, as its header
-- lists them. Every time is in milliseconds of Redis server time.
--   KEYS[1] events         rl:events, the lifecycle stream
--   KEYS[2] dlq            rl:dlq, dead-lettered ids by dead-letter time
--   KEYS[3] queued         rl:queued, queued ids by when they were queued (for reconcile)
--   KEYS[4] delayed        rl:delayed, scheduled ids by when they are due
--   KEYS[5] slo            rl:slo, per-minute and per-hour outcome counters
--   KEYS[6] leases         rl:leases, process id -> last lease refresh
--   KEYS[7] unacked        kombu's unacked hash (copies a pre-relier-transport worker took)
--   KEYS[8] unacked_index  kombu's unacked index zset
--   ARGV[1] maxlen         approximate cap of the event stream
-- A script's own keys start at KEYS[9] and its own arguments at ARGV[2]. No key is built here.

local EVENTS, DLQ, QUEUED, DELAYED = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local SLO, LEASES, UNACKED, UNACKED_INDEX = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local MAXLEN = ARGV[1]

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Append one lifecycle event; `...` are its other fields, as name, value pairs.
local function emit(event_type, task_id, ...)
  return redis.call('XADD', EVENTS, 'MAXLEN', '~', MAXLEN, '*', 'type', event_type, 'id', task_id,
    ...)
end

local function ticket_tag(task_id, ticket)
  return task_id .. '.' .. ticket
end

-- The queue element for a record's stored message with delivery tag `tag`: the packed form
-- (relier.packing: prefix, tag, NUL, compressed message), or the plain kombu JSON a record
-- written before packing holds as `head` and `tail`. False when the record holds neither.
local PACKED = '\0rl1'
local function stored_element(rec, tag)
  local m = redis.call('HMGET', rec, 'packed', 'head', 'tail')
  if m[1] then
    return PACKED .. tag .. '\0' .. m[1]
  end
  if m[2] then
    return m[2] .. tag .. m[3]
  end
  return false
end

local TERMINAL = {completed = true, dead_lettered = true, cancelled = true}

-- Append one entry to a task's attempt history. The list keeps what the record does not: an
-- attempt that ends any other way than completing is closed here with its `started` entry
-- (read from the record: the attempt, its fence, process and start time) first, in the
-- same RPUSH. A running attempt and a completion are read from the record (Store.history).
local function remember(task, entry)
  local open = redis.call('HMGET', task.rec, 'state', 'attempt', 'started_fence', 'holder',
    'started', 'history')
  if not open[6] then  -- the record says it has a list, whose TTL then follows the record's
    redis.call('HSET', task.rec, 'history', 1)
  end
  if open[1] == 'running' then
    redis.call('RPUSH', task.hist, cjson.encode({event = 'started', attempt = tonumber(open[2]),
      fence = tonumber(open[3]), worker = open[4], ts = tonumber(open[5])}), cjson.encode(entry))
    return
  end
  redis.call('RPUSH', task.hist, cjson.encode(entry))
end

-- Push a new copy of a task's stored message to the front of its queue (its priority-0 list):
-- rotate the ticket so every older copy is stale, and mark it queued (indexed for reconcile).
-- `task` = {id, rec, hist, list, idem}. kombu's unacked entry of the old copy (a reserved
-- message that was never acked) is deleted, so kombu never restores that stale copy.
local function requeue_front(task, now)
  local old = ticket_tag(task.id, redis.call('HGET', task.rec, 'ticket'))
  redis.call('HDEL', UNACKED, old)
  redis.call('ZREM', UNACKED_INDEX, old)
  local ticket = redis.call('HINCRBY', task.rec, 'ticket', 1)
  redis.call('RPUSH', task.list, stored_element(task.rec, ticket_tag(task.id, ticket)))
  redis.call('HINCRBY', task.rec, 'deliveries', 1)
  redis.call('HDEL', task.rec, 'holder')
  redis.call('HSET', task.rec, 'state', 'queued', 'list', task.list, 'updated', now,
    'requeued', now)
  redis.call('ZADD', QUEUED, now, task.id)
  return ticket
end

-- Send a task back through the delayed set until `due` (ms): its ticket rotates, so every copy
-- still in flight is stale; the resurrector pushes a new one when due (promote.lua).
local function schedule(task, now, due)
  redis.call('HINCRBY', task.rec, 'ticket', 1)
  redis.call('HDEL', task.rec, 'holder')
  redis.call('HSET', task.rec, 'state', 'scheduled', 'due', due, 'updated', now)
  redis.call('ZREM', QUEUED, task.id)
  redis.call('ZADD', DELAYED, due, task.id)
end

-- Count a task's end for the SLO: one place per outcome, so nothing is counted twice, and one
-- HINCRBY: the field '<task>|m|<minute>|ok|bad' of the SLO hash. The resurrector rolls closed
-- hours up into '<task>|h|<hour>|...' fields; all tasks together are the sum, taken when read
-- (relier/slo.py).
local function count_outcome(task_name, good, now)
  redis.call('HINCRBY', SLO, (task_name or '?') .. '|m|' .. math.floor(now / 60000) .. '|' ..
    (good and 'ok' or 'bad'), 1)
end

-- Give up a task's idempotency claim when it ends without a result (a completed claim stays,
-- so the same call returns its result until the key's TTL). `idem` may be a key never used.
local function release_claim(idem, task_id)
  if redis.call('HGET', idem, 'task') == task_id
      and redis.call('HGET', idem, 'state') ~= 'completed' then
    redis.call('DEL', idem)
  end
end

-- Dead-letter a task no attempt holds any more: the one place a task record ends as a dead
-- letter. `failure` = {reason, error, exc_type, traceback} (the last two optional);
-- `fields` are extra event fields (worker, attempt).
local function bury(task, now, failure, fields)
  redis.call('HDEL', task.rec, 'holder')
  redis.call('HSET', task.rec, 'state', 'dead_lettered', 'reason', failure.reason,
    'exc_type', failure.exc_type or '', 'error', failure.error or '',
    'traceback', failure.traceback or '', 'ended', now, 'updated', now)
  redis.call('ZREM', QUEUED, task.id)
  redis.call('ZADD', DLQ, now, task.id)
  release_claim(task.idem, task.id)
  count_outcome(redis.call('HGET', task.rec, 'name'), false, now)
  local event = {'reason', failure.reason}
  for i = 1, #(fields or {}) do
    event[#event + 1] = fields[i]
  end
  event[#event + 1] = 'ts'
  event[#event + 1] = now
  emit('dead_lettered', task.id, unpack(event))
  return 'dead_lettered'
end

-- End a task that must not run (revoked, or expired before it started): the one place a task
-- record ends cancelled. Its fence is bumped, so an attempt still running has its writes
-- rejected; the record is kept for `ttl_ms` like any ended task.
local function cancel(task, now, reason, ttl_ms)
  local fence = redis.call('HINCRBY', task.rec, 'fence', 1)
  redis.call('HINCRBY', task.rec, 'ticket', 1)
  redis.call('HDEL', task.rec, 'holder', 'due')
  redis.call('HSET', task.rec, 'state', 'cancelled', 'reason', reason, 'ended', now,
    'updated', now)
  redis.call('ZREM', QUEUED, task.id)
  redis.call('ZREM', DELAYED, task.id)
  release_claim(task.idem, task.id)
  if ttl_ms then
    redis.call('PEXPIRE', task.rec, ttl_ms)
    redis.call('PEXPIRE', task.hist, ttl_ms)
  end
  emit('cancelled', task.id, 'reason', reason, 'fence', fence, 'ts', now)
  return 'cancelled'
end

-- Take a task from a holder that died or was fenced off: bump the fence (so the old attempt's
-- writes are rejected) and re-queue it at the front, or dead-letter it once its resurrections
-- are used up. Only a running attempt counts as a resurrection; a reserved copy never started.
local function resurrect(task, now, from, cause, handoff)
  local running = redis.call('HGET', task.rec, 'state') == 'running'
  local fence = redis.call('HINCRBY', task.rec, 'fence', 1)
  local resurrections = tonumber(redis.call('HGET', task.rec, 'resurrections') or '0')
  local attempt = redis.call('HGET', task.rec, 'attempt')
  redis.call('HDEL', task.rec, 'handoff_ticket')
  if handoff then
    -- a graceful handoff: the worker stopped the attempt itself; not a death, not counted
    remember(task, {event = 'handoff', attempt = tonumber(attempt), worker = from, ts = now})
    requeue_front(task, now)
    emit('handed_off', task.id, 'worker', from, 'attempt', attempt, 'fence', fence, 'ts', now)
    return 'queued'
  end
  if running then
    resurrections = redis.call('HINCRBY', task.rec, 'resurrections', 1)
  end
  local cap = tonumber(redis.call('HGET', task.rec, 'max_resurrections') or '5')
  remember(task, {event = running and 'lost' or 'returned', attempt = tonumber(attempt),
    worker = from, cause = cause, ts = now})
  if running and resurrections > cap then
    return bury(task, now, {reason = 'max_resurrections',
      error = 'its process died ' .. resurrections .. ' times (cap ' .. cap .. ')'},
      {'worker', from, 'attempt', attempt})
  end
  requeue_front(task, now)
  emit(running and 'resurrected' or 'requeued', task.id,
    'worker', from, 'attempt', attempt, 'fence', fence, 'cause', cause, 'ts', now)
  return 'queued'
end

-- Admission: a GCRA bucket (rate per second, `burst` pushes at once) and a maximum depth.
-- `live` = {rate, burst, max_depth} an operator set (false where not) wins over the declared.
-- Returns a verdict: {rejected, why, retry_ms} or {tat_key, tat, ttl_ms} to commit.
local function admission_check(live, tat_key, rate, burst, max_depth, lists, now)
  rate = tonumber(live[1] or rate) or 0
  burst = math.max(tonumber(live[2] or burst) or 1, 1)
  max_depth = tonumber(live[3] or max_depth) or 0
  if max_depth > 0 and #lists > 0 then
    local depth = 0
    for _, list in ipairs(lists) do
      depth = depth + redis.call('LLEN', list)
    end
    if depth >= max_depth then
      local wait = 1000
      if rate > 0 then
        wait = math.ceil(1000 / rate)
      end
      return {rejected = true, why = 'max_depth', retry_ms = wait}
    end
  end
  if rate <= 0 then
    return {}
  end
  local interval = 1000 / rate
  local tolerance = interval * burst
  local tat = math.max(tonumber(redis.call('GET', tat_key) or now), now)
  local new_tat = tat + interval
  if new_tat - now > tolerance then
    return {rejected = true, why = 'rate', retry_ms = math.ceil(new_tat - now - tolerance)}
  end
  return {tat_key = tat_key, tat = new_tat, ttl_ms = math.ceil(new_tat - now) + 1000}
end

local function admission_commit(verdict)
  if verdict.tat_key then
    redis.call('SET', verdict.tat_key, string.format('%.3f', verdict.tat), 'PX', verdict.ttl_ms)
  end
end

-- Create a task: its record and its first copy, or its place in the delayed set when it is
-- due later. `t` = {id, rec, list, idem, name, queue, message, version, digest, max_res,
-- front, nonce, due, delay, expires, expires_in} (ARGV strings, '' for none). The caller has
-- checked that the id has no record and the idempotency key no live owner.
local function create_task(t, now)
  if t.digest ~= '' then
    redis.call('HSET', t.idem, 'task', t.id, 'state', 'pending')
  end
  redis.call('HSET', t.rec,
    'state', 'queued', 'name', t.name, 'queue', t.queue, 'list', t.list,
    'packed', t.message, 'ticket', 1, 'fence', 0, 'attempt', 0,
    'resurrections', 0, 'max_resurrections', t.max_res, 'deliveries', 1, 'version', t.version,
    'idem', t.digest, 'front', t.front, 'nonce', t.nonce,
    'created', now, 'updated', now)
  local expires = tonumber(t.expires) or (t.expires_in ~= '' and now + tonumber(t.expires_in))
    or nil
  if expires then
    redis.call('HSET', t.rec, 'expires', expires)
  end
  local due = tonumber(t.due) or (t.delay ~= '' and now + tonumber(t.delay)) or nil
  if due and due > now then
    redis.call('HSET', t.rec, 'state', 'scheduled', 'due', due, 'deliveries', 0)
    redis.call('ZADD', DELAYED, due, t.id)
    emit('dispatched', t.id, 'task', t.name, 'queue', t.queue, 'due', due, 'ts', now)
    return
  end
  redis.call('LPUSH', t.list, PACKED .. ticket_tag(t.id, 1) .. '\0' .. t.message)
  redis.call('ZADD', QUEUED, now, t.id)
  emit('dispatched', t.id, 'task', t.name, 'queue', t.queue, 'ts', now)
end

-- The arguments of one created task, in this order after its key group (record, list, idem).
local CREATE_ARGS = 16

-- Created task `i` (from 1) of a script whose key groups start at KEYS[key_base] and whose
-- created tasks' arguments start at ARGV[arg_base]: task_id, task_name, queue, message,
-- version, idem_digest, max_resurrections, front, nonce, due_ms, delay_ms, expires_ms,
-- expires_in_ms, then fail_reason, fail_error and fail_exc_type ('' for a task that runs).
local function created_at(key_base, arg_base, i)
  local k, a = key_base + (i - 1) * 3, arg_base + (i - 1) * CREATE_ARGS
  return {rec = KEYS[k], list = KEYS[k + 1], idem = KEYS[k + 2],
    id = ARGV[a], name = ARGV[a + 1], queue = ARGV[a + 2], message = ARGV[a + 3],
    version = ARGV[a + 4], digest = ARGV[a + 5], max_res = ARGV[a + 6], front = ARGV[a + 7],
    nonce = ARGV[a + 8], due = ARGV[a + 9], delay = ARGV[a + 10], expires = ARGV[a + 11],
    expires_in = ARGV[a + 12], fail_reason = ARGV[a + 13], fail_error = ARGV[a + 14],
    fail_exc_type = ARGV[a + 15]}
end

-- A continuation (a chain's next step, a callback, an errback, a chord's join or its body)
-- created by the transition that ends the task before it: unless its id already has a record
-- (an earlier attempt of that task, or a direct push, created it first) or its idempotency
-- key has a live owner. A continuation with a `fail_reason` never runs: its record is
-- created dead-lettered (a chord body whose header failed, the rest of a chain whose step
-- failed), kept `ttl_ms`, outside the DLQ (the task that failed is there).
local function create_continuation(t, now, ttl_ms)
  if redis.call('EXISTS', t.rec) == 1 then
    return false
  end
  if t.digest ~= '' and redis.call('HEXISTS', t.idem, 'task') == 1 then
    return false
  end
  if t.fail_reason == '' then
    create_task(t, now)
    return true
  end
  redis.call('HSET', t.rec, 'state', 'dead_lettered', 'name', t.name, 'queue', t.queue,
    'reason', t.fail_reason, 'error', t.fail_error, 'exc_type', t.fail_exc_type, 'ticket', 0, 'fence', 0,
    'attempt', 0, 'created', now, 'ended', now, 'updated', now)
  redis.call('PEXPIRE', t.rec, ttl_ms)
  count_outcome(t.name, false, now)
  emit('dead_lettered', t.id, 'reason', t.fail_reason, 'ts', now)
  return true
end

-- Create `count` continuations, the first at KEYS[key_base] and ARGV[arg_base].
local function create_continuations(key_base, arg_base, count, now, ttl_ms)
  for i = 1, count do
    create_continuation(created_at(key_base, arg_base, i), now, ttl_ms)
  end
end

-- A chord header task ended: record its result (`result`, or a failure when `failed_id` is
-- given) in the chord's hash and say whether the chord's join must be created now: when
-- every header task has completed (the size is known: the producer writes it before it
-- pushes the last header task) or at the first failure. Exactly once per chord (`fired`).
local function chord_part(chord, index, result, failed_id, failed_error, now, ttl_ms)
  if failed_id then
    redis.call('HSETNX', chord, 'failed', failed_id)
    redis.call('HSETNX', chord, 'failed_error', failed_error)
  else
    redis.call('HSET', chord, 'r' .. index, result)
    redis.call('HINCRBY', chord, 'done', 1)
  end
  redis.call('PEXPIRE', chord, ttl_ms)
  local state = redis.call('HMGET', chord, 'size', 'done', 'failed')
  local size, done = tonumber(state[1]), tonumber(state[2] or '0')
  if not state[3] and not (size and done >= size) then
    return false
  end
  return redis.call('HSETNX', chord, 'fired', now) == 1
end

-- What a task's dead letter creates: its `creates` errbacks, and, for a chord header task
-- (`index` ~= ''), its failure in the chord's hash and the chord's join (created once, after
-- the errbacks), from key groups at KEYS[key_base] and created tasks at ARGV[arg_base].
local function dead_letter_continuations(chord, index, id, error, key_base, arg_base, creates,
    now, ttl_ms)
  create_continuations(key_base, arg_base, creates, now, ttl_ms)
  if index ~= '' and chord_part(chord, index, nil, id, error, now, ttl_ms) then
    create_continuation(created_at(key_base, arg_base, creates + 1), now, ttl_ms)
  end
end
