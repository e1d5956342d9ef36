-- mark_handoff: a worker draining for shutdown is about to stop this running attempt and hand
-- the task to another worker (running, marked).
-- KEYS[1] record hash        KEYS[2] event stream
-- ARGV[1] delivery tag of the running copy   ARGV[2] task id   ARGV[3] event stream cap
-- ARGV[4] worker node
-- Returns 'marked' or 'stale' (the copy is not the running one any more: it finished).
-- Guarantees: once marked, the pool parent's `lost` (when the stopped process is reported
-- dead) re-queues the task as a handoff, with a new fence and ticket, never as a resurrection.
if redis.call('HGET', KEYS[1], 'state') ~= 'running'
    or ARGV[1] ~= ticket_tag(ARGV[2], redis.call('HGET', KEYS[1], 'ticket')) then
  return 'stale'
end
redis.call('HSET', KEYS[1], 'handoff_ticket', ARGV[1])
emit(KEYS[2], ARGV[3], 'handoff_started', ARGV[2], {'worker', ARGV[4], 'ts', now_ms()})
return 'marked'
