-- release: an operator sends a dead letter back to work (dead_lettered -> queued).
-- KEYS[9] record            KEYS[10] history
-- KEYS[11] front            the queue's priority-0 list, where the new copy goes
-- ARGV[2] task_id           ARGV[3] by              who released it (for the history)
-- Returns 'queued', 'missing' (no such dead letter), 'not_dead_lettered' or 'unreleasable'
-- (a message that failed to decode or verify: it has no trusted envelope to run).
-- Guarantees: atomic: the entry leaves the dead letters in the same script that re-queues the
-- task with a new ticket and fence, so a release either happens or says why not. Counters of
-- failures, bounces and resurrections restart, so the task gets its full allowance again.
local rec, hist, id = KEYS[9], KEYS[10], ARGV[2]
if not redis.call('ZSCORE', DLQ, id) then
  return 'missing'
end
if redis.call('HGET', rec, 'state') ~= 'dead_lettered' then
  return 'not_dead_lettered'
end
if redis.call('HEXISTS', rec, 'packed') == 0 and redis.call('HEXISTS', rec, 'head') == 0 then
  return 'unreleasable'
end
local now = now_ms()
local task = {id = id, rec = rec, hist = hist, list = KEYS[11]}
local reason = redis.call('HGET', rec, 'reason')
local fence = redis.call('HINCRBY', rec, 'fence', 1)
redis.call('HSET', rec, 'failures', 0, 'bounces', 0, 'resurrections', 0,
  'lost_in_broker', 0, 'released_at', now)
redis.call('HDEL', rec, 'ended', 'reason', 'result')
redis.call('HINCRBY', rec, 'releases', 1)
redis.call('ZREM', DLQ, id)
redis.call('PERSIST', rec)
redis.call('PERSIST', hist)
remember(task, {event = 'released', by = ARGV[3], reason = reason, ts = now})
requeue_front(task, now)
emit('released', id, 'reason', reason, 'by', ARGV[3], 'fence', fence, 'ts', now)
return 'queued'
