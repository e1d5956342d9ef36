-- reject: a delivered copy that must never run is dead-lettered before any attempt starts
-- (queued/reserved -> dead_lettered): its arguments failed to migrate, its Celery headers were
-- rewritten after signing, or Celery could not take it.
-- KEYS[9] record            KEYS[10] history
-- KEYS[11] holder_held      rl:held:<node> of the worker's consumer
-- KEYS[12] idem             the idempotency key (released; any unused key if none)
-- ARGV[2] tag               the delivery tag of the copy
-- ARGV[3] reason            ARGV[4] error           ARGV[5] task_id
-- Returns 'ok' (also for a retry that finds its own rejection), 'stale' (not the live copy, or
-- already started or ended) or 'missing'.
-- Guarantees: only the live copy ends the task; any other copy changes nothing.
local rec, hist, held, idem = KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local id = ARGV[5]
local state = redis.call('HGET', rec, 'state')
if not state then
  return 'missing'
end
local ticket = redis.call('HGET', rec, 'ticket')
if state == 'dead_lettered' and ARGV[2] == ticket_tag(id, ticket)
    and redis.call('HGET', rec, 'reason') == ARGV[3] then
  return 'ok'  -- a retry after a lost reply
end
if ARGV[2] ~= ticket_tag(id, ticket) or (state ~= 'queued' and state ~= 'reserved') then
  return 'stale'
end
local now = now_ms()
local task = {id = id, rec = rec, hist = hist, idem = idem}
redis.call('SREM', held, id)
remember(task, {event = 'rejected', ts = now, reason = ARGV[3], error = ARGV[4]})
bury(task, now, {reason = ARGV[3], error = ARGV[4]}, {})
return 'ok'
