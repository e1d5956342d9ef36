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
