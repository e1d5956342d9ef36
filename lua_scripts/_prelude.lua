-- Shared helpers, prepended to every script by relier/scripts.py before loading.
-- No keys are touched here; every key a script uses arrives in its KEYS.

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Append one lifecycle event. `fields` is a flat list of name, value pairs.
local function emit(stream, maxlen, event_type, task_id, fields)
  local args = {'XADD', stream, 'MAXLEN', '~', maxlen, '*', 'type', event_type, 'id', task_id}
  for i = 1, #fields do
    args[#args + 1] = fields[i]
  end
  return redis.call(unpack(args))
end

local function ticket_tag(task_id, ticket)
  return task_id .. '.' .. ticket
end

local TERMINAL = {completed = true, failed = true, dead_lettered = true, cancelled = true}

-- Push a new copy of a task's stored message to the front of its queue (its priority-0 list):
-- rotate the ticket so every older copy is stale, and mark it queued (indexed for reconcile).
-- `task` = {id, rec, hist, list, idem}; `shared` = {dlq, events, maxlen, queued, unacked,
-- unacked_index}. kombu's unacked entry of the old copy (a reserved message that was never
-- acked) is deleted, so kombu never restores that stale copy after its visibility timeout.
local function requeue_front(task, shared, now)
  local old = ticket_tag(task.id, redis.call('HGET', task.rec, 'ticket'))
  redis.call('HDEL', shared.unacked, old)
  redis.call('ZREM', shared.unacked_index, old)
  local ticket = redis.call('HINCRBY', task.rec, 'ticket', 1)
  local message = redis.call('HMGET', task.rec, 'head', 'tail')
  redis.call('RPUSH', task.list, message[1] .. ticket_tag(task.id, ticket) .. message[2])
  redis.call('HINCRBY', task.rec, 'deliveries', 1)
  redis.call('HDEL', task.rec, 'holder')
  redis.call('HSET', task.rec, 'state', 'queued', 'list', task.list, 'updated', now,
    'requeued', now)
  redis.call('ZADD', shared.queued, now, task.id)
  return ticket
end

-- Count a task's end for the SLO: one place per outcome, so nothing is counted twice.
-- Fields of the hash `slo`: '<task>|m|<minute>|ok|bad' and '<task>|h|<hour>|ok|bad', and the
-- same under the task name '*' for all tasks together.
local function count_outcome(slo, task_name, good, now)
  local outcome = good and 'ok' or 'bad'
  local minute = math.floor(now / 60000)
  local hour = math.floor(now / 3600000)
  for _, name in ipairs({task_name or '?', '*'}) do
    redis.call('HINCRBY', slo, name .. '|m|' .. minute .. '|' .. outcome, 1)
    redis.call('HINCRBY', slo, name .. '|h|' .. hour .. '|' .. outcome, 1)
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

-- Dead-letter a task that is not running (no attempt holds it any more).
local function bury(task, shared, now, reason, error_text, from, attempt)
  redis.call('HDEL', task.rec, 'holder')
  redis.call('HSET', task.rec, 'state', 'dead_lettered', 'reason', reason, 'exc_type', '',
    'error', error_text, 'traceback', '', 'ended', now, 'updated', now)
  redis.call('ZREM', shared.queued, task.id)
  redis.call('ZADD', shared.dlq, now, task.id)
  release_claim(task.idem, task.id)
  count_outcome(shared.slo, redis.call('HGET', task.rec, 'name'), false, now)
  emit(shared.events, shared.maxlen, 'dead_lettered', task.id, {'reason', reason,
    'worker', from, 'attempt', attempt or '', 'ts', now})
  return 'dead_lettered'
end

-- Take a task from a holder that died or was fenced off: bump the fence (so the old attempt's
-- writes are rejected) and re-queue it at the front, or dead-letter it once its resurrections
-- are used up. Only a running attempt counts as a resurrection; a reserved copy never started.
local function resurrect(task, shared, now, from, cause, handoff)
  local running = redis.call('HGET', task.rec, 'state') == 'running'
  local fence = redis.call('HINCRBY', task.rec, 'fence', 1)
  local resurrections = tonumber(redis.call('HGET', task.rec, 'resurrections') or '0')
  redis.call('HDEL', task.rec, 'handoff_ticket')
  if handoff then
    -- a graceful handoff: the worker stopped the attempt itself; not a death, not counted
    local attempt = redis.call('HGET', task.rec, 'attempt')
    redis.call('RPUSH', task.hist, cjson.encode({event = 'handoff', attempt = tonumber(attempt),
      worker = from, ts = now}))
    requeue_front(task, shared, now)
    emit(shared.events, shared.maxlen, 'handed_off', task.id, {'worker', from,
      'attempt', attempt, 'fence', fence, 'ts', now})
    return 'queued'
  end
  if running then
    resurrections = redis.call('HINCRBY', task.rec, 'resurrections', 1)
  end
  local cap = tonumber(redis.call('HGET', task.rec, 'max_resurrections') or '5')
  local attempt = redis.call('HGET', task.rec, 'attempt')
  redis.call('RPUSH', task.hist, cjson.encode({event = running and 'lost' or 'returned',
    attempt = tonumber(attempt), worker = from, cause = cause, ts = now}))
  if running and resurrections > cap then
    return bury(task, shared, now, 'max_resurrections',
      'its process died ' .. resurrections .. ' times (cap ' .. cap .. ')', from, attempt)
  end
  requeue_front(task, shared, now)
  emit(shared.events, shared.maxlen, running and 'resurrected' or 'requeued', task.id,
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

