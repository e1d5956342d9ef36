-- lost: the pool parent saw the process running (or about to run) this copy die
-- (reserved/running -> queued at the front, or dead_lettered after max_resurrections).
-- KEYS[1] record hash        KEYS[2] attempt history   KEYS[3] the queue's priority-0 list
-- KEYS[4] dead-letter index  KEYS[5] event stream
-- KEYS[6] held set of the dead process              KEYS[7] held set of the worker's consumer
-- KEYS[8] queued index (rl:queued)   KEYS[9] kombu's unacked hash   KEYS[10] its index zset
-- KEYS[11] idempotency key (released if the task is dead-lettered; any unused key if none)
-- KEYS[12] SLO counters (rl:slo)
-- ARGV[1] delivery tag of the copy that was lost   ARGV[2] event stream cap
-- ARGV[3] task id            ARGV[4] dead process id   ARGV[5] cause (e.g. WorkerLostError text)
-- A copy marked for handoff (mark_handoff.lua) is re-queued as a handoff: not a resurrection.
-- Returns 'queued', 'dead_lettered' or 'stale' (the copy is no longer live: already finished,
-- or re-queued by someone else).
-- Guarantees: acts only while the record's ticket is this copy's, so a task that committed
-- before its process died, or that the resurrector already took, is left alone.
local state = redis.call('HGET', KEYS[1], 'state')
if not state or (state ~= 'running' and state ~= 'reserved') then
  return 'stale'
end
if ARGV[1] ~= ticket_tag(ARGV[3], redis.call('HGET', KEYS[1], 'ticket')) then
  return 'stale'
end
redis.call('SREM', KEYS[6], ARGV[3])
redis.call('SREM', KEYS[7], ARGV[3])
local handoff = redis.call('HGET', KEYS[1], 'handoff_ticket') == ARGV[1]
return resurrect({id = ARGV[3], rec = KEYS[1], hist = KEYS[2], list = KEYS[3], idem = KEYS[11]},
  {dlq = KEYS[4], events = KEYS[5], maxlen = ARGV[2], queued = KEYS[8], slo = KEYS[12],
    unacked = KEYS[9], unacked_index = KEYS[10]}, now_ms(), ARGV[4], ARGV[5], handoff)
