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

-- Take a task from a holder that died or was fenced off: bump the fence (so the old attempt's
-- writes are rejected), rotate the ticket (so every older copy is stale) and push the stored
-- message to the front of its queue; or dead-letter it once its resurrections are used up.
-- Only a running attempt counts as a resurrection; a reserved copy never started.
local function resurrect(rec, hist, list, dlq, stream, maxlen, task_id, now, from, cause)
  local running = redis.call('HGET', rec, 'state') == 'running'
  local fence = redis.call('HINCRBY', rec, 'fence', 1)
  local ticket = redis.call('HINCRBY', rec, 'ticket', 1)
  local resurrections = tonumber(redis.call('HGET', rec, 'resurrections') or '0')
  if running then
    resurrections = redis.call('HINCRBY', rec, 'resurrections', 1)
  end
  local cap = tonumber(redis.call('HGET', rec, 'max_resurrections') or '5')
  local attempt = redis.call('HGET', rec, 'attempt')
  redis.call('HDEL', rec, 'holder')
  redis.call('RPUSH', hist, cjson.encode({event = running and 'lost' or 'returned',
    attempt = tonumber(attempt), worker = from, cause = cause, ts = now}))
  if running and resurrections > cap then
    redis.call('HSET', rec, 'state', 'dead_lettered', 'reason', 'max_resurrections',
      'exc_type', '', 'error', 'its process died ' .. resurrections .. ' times (cap ' .. cap .. ')',
      'traceback', '', 'ended', now, 'updated', now)
    redis.call('ZADD', dlq, now, task_id)
    emit(stream, maxlen, 'dead_lettered', task_id, {'reason', 'max_resurrections',
      'worker', from, 'attempt', attempt, 'ts', now})
    return 'dead_lettered'
  end
  local message = redis.call('HMGET', rec, 'head', 'tail')
  redis.call('RPUSH', list, message[1] .. ticket_tag(task_id, ticket) .. message[2])
  redis.call('HINCRBY', rec, 'deliveries', 1)
  redis.call('HSET', rec, 'state', 'queued', 'updated', now, 'requeued', now)
  emit(stream, maxlen, running and 'resurrected' or 'requeued', task_id, {'worker', from,
    'attempt', attempt, 'fence', fence, 'cause', cause, 'ts', now})
  return 'queued'
end
