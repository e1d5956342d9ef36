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

-- Append one lifecycle event. `fields` is a flat list of name, value pairs.
local function emit(event_type, task_id, fields)
  local args = {'XADD', EVENTS, 'MAXLEN', '~', MAXLEN, '*', 'type', event_type, 'id', task_id}
  for i = 1, #fields do
    args[#args + 1] = fields[i]
  end
  return redis.call(unpack(args))
end

local function ticket_tag(task_id, ticket)
  return task_id .. '.' .. ticket
end

local TERMINAL = {completed = true, dead_lettered = true, cancelled = true}

-- Append one entry to a task's attempt history.
local function remember(task, entry)
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
  local message = redis.call('HMGET', task.rec, 'head', 'tail')
  redis.call('RPUSH', task.list, message[1] .. ticket_tag(task.id, ticket) .. message[2])
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

-- Count a task's end for the SLO: one place per outcome, so nothing is counted twice.
-- Fields of the SLO hash: '<task>|m|<minute>|ok|bad' and '<task>|h|<hour>|ok|bad', and the
-- same under the task name '*' for all tasks together.
local function count_outcome(task_name, good, now)
  local outcome = good and 'ok' or 'bad'
  local minute = math.floor(now / 60000)
  local hour = math.floor(now / 3600000)
  for _, name in ipairs({task_name or '?', '*'}) do
    redis.call('HINCRBY', SLO, name .. '|m|' .. minute .. '|' .. outcome, 1)
    redis.call('HINCRBY', SLO, name .. '|h|' .. hour .. '|' .. outcome, 1)
  end
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
  emit('dead_lettered', task.id, event)
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
  emit('cancelled', task.id, {'reason', reason, 'fence', fence, 'ts', now})
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
    emit('handed_off', task.id, {'worker', from, 'attempt', attempt, 'fence', fence, 'ts', now})
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
    {'worker', from, 'attempt', attempt, 'fence', fence, 'cause', cause, 'ts', now})
  return 'queued'
end

-- Admission: a GCRA bucket (rate per second, `burst` pushes at once) and a maximum depth.
-- Limits stored in `limits_key` (an operator's live override) win over the declared ones.
-- Returns a verdict: {rejected, why, retry_ms} or {tat_key, tat, ttl_ms} to commit.
local function admission_check(limits_key, tat_key, rate, burst, max_depth, lists, now)
  local live = redis.call('HMGET', limits_key, 'rate', 'burst', 'max_depth')
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
