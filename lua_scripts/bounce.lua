-- bounce: a worker got a copy it cannot run yet (its envelope version is newer than the
-- worker's code, or no task of that name is registered here): send it back through the
-- delayed set for a worker that can (queued/reserved -> scheduled), or dead-letter it after
-- too many bounces (queued/reserved -> dead_lettered).
-- KEYS[9] record            KEYS[10] history
-- KEYS[11] worker_held      rl:held:<node> of the worker's consumer
-- KEYS[12] idem             the idempotency key (any unused key)
-- ARGV[2] tag               the delivery tag of the copy
-- ARGV[3] reason            if dead-lettered        ARGV[4] error
-- ARGV[5] delay_ms          before the copy is pushed again
-- ARGV[6] max_bounces       bounces before the dead letters
-- ARGV[7] task_id           ARGV[8] worker
-- Returns 'scheduled', 'dead_lettered' or 'stale'.
-- Guarantees: the copy is never dropped: it waits (ticket rotated, so this copy is stale) or
-- lands in the dead letters with its reason.
local rec, id = KEYS[9], ARGV[7]
local state = redis.call('HGET', rec, 'state')
if (state ~= 'queued' and state ~= 'reserved')
    or ARGV[2] ~= ticket_tag(id, redis.call('HGET', rec, 'ticket')) then
  return 'stale'
end
local now = now_ms()
local task = {id = id, rec = rec, hist = KEYS[10], list = '', idem = KEYS[12]}
local bounces = redis.call('HINCRBY', rec, 'bounces', 1)
redis.call('HDEL', rec, 'holder')
redis.call('SREM', KEYS[11], id)
redis.call('ZREM', QUEUED, id)
remember(task, {event = 'bounced', worker = ARGV[8], ts = now, reason = ARGV[3], error = ARGV[4]})
if bounces > tonumber(ARGV[6]) then
  return bury(task, now, {reason = ARGV[3], error = ARGV[4] .. ' (bounced ' .. bounces .. ' times)'},
    {'worker', ARGV[8], 'attempt', ''})
end
local due = now + tonumber(ARGV[5])
schedule(task, now, due)
emit('bounced', id, 'worker', ARGV[8], 'reason', ARGV[3], 'due', due, 'ts', now)
return 'scheduled'
