-- receive: a worker's consumer took the message off the broker (queued -> reserved).
-- KEYS[9] record            KEYS[10] holder_held    rl:held:<holder>
-- ARGV[2] tag               the delivery tag of the copy received (<id>.<ticket>)
-- ARGV[3] holder            the consumer incarnation
-- ARGV[4] worker            the worker node (node name/pid)
-- ARGV[5] task_id
-- Returns 'ok' (run it), 'missing' (no record), 'done' (terminal), 'stale' (not the live copy).
-- Guarantees: only the copy carrying the record's live ticket is passed on to the pool, and
-- from here on the task is bound to the consumer's lease.
local rec, held = KEYS[9], KEYS[10]
local id = ARGV[5]
local current = redis.call('HMGET', rec, 'state', 'ticket')
local state, ticket = current[1], current[2]
if not state then
  return 'missing'
end
if TERMINAL[state] then
  return 'done'
end
if ARGV[2] ~= ticket_tag(id, ticket) or state ~= 'queued' then
  return 'stale'
end
local now = now_ms()
redis.call('HSET', rec, 'state', 'reserved', 'holder', ARGV[3], 'worker', ARGV[4],
  'updated', now)
redis.call('SADD', held, id)
redis.call('ZREM', QUEUED, id)
-- a holder that has never refreshed still gets a lease, so its death is noticed
redis.call('ZADD', LEASES, 'NX', now, ARGV[3])
emit('received', id, 'worker', ARGV[4], 'ts', now)
return 'ok'
