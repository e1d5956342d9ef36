-- mark_handoff: a worker draining for shutdown is about to stop this running attempt and hand
-- the task to another worker (running, marked).
-- KEYS[9] record
-- ARGV[2] tag               the delivery tag of the running copy
-- ARGV[3] task_id           ARGV[4] worker
-- Returns 'marked' or 'stale' (the copy is not the running one any more: it finished).
-- Guarantees: once marked, the pool parent's `lost` (when the stopped process is reported
-- dead) re-queues the task as a handoff, with a new fence and ticket, never as a resurrection.
local rec, id = KEYS[9], ARGV[3]
if redis.call('HGET', rec, 'state') ~= 'running'
    or ARGV[2] ~= ticket_tag(id, redis.call('HGET', rec, 'ticket')) then
  return 'stale'
end
redis.call('HSET', rec, 'handoff_ticket', ARGV[2])
emit('handoff_started', id, 'worker', ARGV[4], 'ts', now_ms())
return 'marked'
