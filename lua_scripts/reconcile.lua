-- reconcile: re-queue a task whose message left its broker list without reaching a worker
-- (popped by kombu's BRPOP but never received: consumer killed in between, connection lost,
-- or a copy a worker refused while its record still waited for it).
-- KEYS[9] record            KEYS[10] history
-- KEYS[11] list             the list the copy was pushed to
-- KEYS[12] front            the queue's priority-0 list, where a new copy goes
-- KEYS[13] idem             the idempotency key (released if dead-lettered; any unused key)
-- ARGV[2] task_id
-- ARGV[3] reconcile_after_ms  only tasks queued at least this long are examined
-- ARGV[4] scan              most list elements to scan from the consuming end (LPOS MAXLEN)
-- Returns 'present' (still in its list), 'unknown' (list longer than the scan), 'requeued',
-- 'dead_lettered' (lost more often than its max_resurrections) or 'skip' (not a candidate).
-- Guarantees: a copy still in its list is never duplicated by this script; a false positive
-- (a copy popped and about to be received) only wastes a delivery, since its ticket turns
-- stale. Cost: one LPOS bounded by ARGV[4].
local rec, hist = KEYS[9], KEYS[10]
local id = ARGV[2]
local now = now_ms()
local queued_at = redis.call('ZSCORE', QUEUED, id)
if not queued_at or redis.call('HGET', rec, 'state') ~= 'queued' then
  redis.call('ZREM', QUEUED, id)
  return 'skip'
end
if now - tonumber(queued_at) < tonumber(ARGV[3]) then
  return 'skip'
end
local ticket = redis.call('HGET', rec, 'ticket')
local copy = stored_element(rec, ticket_tag(id, ticket))
if copy and redis.call('LPOS', KEYS[11], copy, 'RANK', -1, 'MAXLEN', ARGV[4]) then
  redis.call('ZADD', QUEUED, now, id)
  return 'present'
end
if redis.call('LLEN', KEYS[11]) > tonumber(ARGV[4]) then
  redis.call('ZADD', QUEUED, now, id)
  return 'unknown'
end
local task = {id = id, rec = rec, hist = hist, list = KEYS[12], idem = KEYS[13]}
local lost = redis.call('HINCRBY', rec, 'lost_in_broker', 1)
local cap = tonumber(redis.call('HGET', rec, 'max_resurrections') or '5')
remember(task, {event = 'lost_in_broker', ts = now, ticket = tonumber(ticket)})
if lost > cap then
  return bury(task, now, {reason = 'lost_in_broker',
    error = 'its message left the broker without reaching a worker ' .. lost .. ' times'},
    {'worker', 'resurrector', 'attempt', ''})
end
requeue_front(task, now)
emit('reconciled', id, 'ts', now)
return 'requeued'
