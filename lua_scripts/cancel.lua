-- cancel: revoke a task (any non-terminal state -> cancelled): Celery's revoke.
-- KEYS[9] record            KEYS[10] history
-- KEYS[11] idem             the idempotency key (released; any unused key when none)
-- ARGV[2] task_id           ARGV[3] reason          'revoked', or why
-- ARGV[4] result_ttl_ms     how long the cancelled record is kept
-- ARGV[5] by                who revoked it (for the history)
-- Returns 'cancelled', 'done' (it had already ended: nothing changes) or 'missing'.
-- Guarantees: persistent: the ticket and the fence move on, so no copy still queued, no
-- resurrection and no handoff can run it again, and a running attempt's late writes are
-- rejected; the record says cancelled for RELIER_RESULT_TTL, whatever restarts.
local rec, id = KEYS[9], ARGV[2]
local state = redis.call('HGET', rec, 'state')
if not state then
  return 'missing'
end
if TERMINAL[state] then
  return 'done'
end
local now = now_ms()
local task = {id = id, rec = rec, hist = KEYS[10], idem = KEYS[11]}
remember(task, {event = 'cancelled', from_state = state, by = ARGV[5], reason = ARGV[3], ts = now})
return cancel(task, now, ARGV[3], ARGV[4])
