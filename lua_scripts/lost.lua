-- lost: the pool parent saw the process running (or about to run) this copy die
-- (reserved/running -> queued at the front, or dead_lettered after max_resurrections).
-- A copy marked for handoff (mark_handoff.lua) is re-queued as a handoff: not a resurrection.
-- KEYS[9] record            KEYS[10] history
-- KEYS[11] front            the queue's priority-0 list, where the new copy goes
-- KEYS[12] process_held     rl:held:<process> of the dead process
-- KEYS[13] worker_held      rl:held:<node> of the worker's consumer
-- KEYS[14] idem             the idempotency key (released if dead-lettered; any unused key)
-- ARGV[2] tag               the delivery tag of the copy that was lost
-- ARGV[3] task_id           ARGV[4] process         the dead process
-- ARGV[5] cause             e.g. the WorkerLostError text
-- Returns 'queued', 'dead_lettered' or 'stale' (the copy is no longer live: already finished,
-- or re-queued by someone else).
-- Guarantees: acts only while the record's ticket is this copy's, so a task that committed
-- before its process died, or that the resurrector already took, is left alone.
local rec = KEYS[9]
local id = ARGV[3]
local state = redis.call('HGET', rec, 'state')
if not state or (state ~= 'running' and state ~= 'reserved') then
  return 'stale'
end
if ARGV[2] ~= ticket_tag(id, redis.call('HGET', rec, 'ticket')) then
  return 'stale'
end
redis.call('SREM', KEYS[12], id)
redis.call('SREM', KEYS[13], id)
local handoff = redis.call('HGET', rec, 'handoff_ticket') == ARGV[2]
return resurrect({id = id, rec = rec, hist = KEYS[10], list = KEYS[11], idem = KEYS[14]},
  now_ms(), ARGV[4], ARGV[5], handoff)
