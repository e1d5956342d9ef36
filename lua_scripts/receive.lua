-- receive: a worker's consumer took the message off the broker (queued -> reserved).
-- KEYS[1] record hash        KEYS[2] event stream
-- KEYS[3] held set of the consumer (rl:held:<holder>)   KEYS[4] lease index (rl:leases)
-- KEYS[5] queued index (rl:queued)
-- ARGV[1] delivery tag of the copy received (<id>.<ticket>)
-- ARGV[2] holder: the consumer incarnation      ARGV[3] worker node (node name/pid)
-- ARGV[4] event stream cap   ARGV[5] task id
-- Returns 'ok' (run it), 'missing' (no record), 'done' (terminal), 'stale' (not the live copy).
-- Guarantees: only the copy carrying the record's live ticket is passed on to the pool, and
-- from here on the task is bound to the consumer's lease.
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  return 'missing'
end
if TERMINAL[state] then
  return 'done'
end
local ticket = redis.call('HGET', KEYS[1], 'ticket')
if ARGV[1] ~= ticket_tag(ARGV[5], ticket) or state ~= 'queued' then
  return 'stale'
end
local now = now_ms()
redis.call('HSET', KEYS[1], 'state', 'reserved', 'holder', ARGV[2], 'worker', ARGV[3],
  'updated', now)
redis.call('SADD', KEYS[3], ARGV[5])
redis.call('ZREM', KEYS[5], ARGV[5])
-- a holder that has never refreshed still gets a lease, so its death is noticed
redis.call('ZADD', KEYS[4], 'NX', now, ARGV[2])
emit(KEYS[2], ARGV[4], 'received', ARGV[5], {'worker', ARGV[3], 'ts', now})
return 'ok'
