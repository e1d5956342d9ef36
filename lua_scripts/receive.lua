-- receive: a worker's consumer took the message off the broker (queued -> reserved).
-- KEYS[1] record hash        KEYS[2] event stream
-- ARGV[1] delivery tag of the copy received (<id>.<ticket>)
-- ARGV[2] holder: the consumer incarnation      ARGV[3] worker node (node name/pid)
-- ARGV[4] event stream cap   ARGV[5] task id
-- Returns 'ok' (run it), 'missing' (no record), 'done' (terminal), 'stale' (not the live copy).
-- Guarantees: only the copy carrying the record's live ticket is passed on to the pool.
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
emit(KEYS[2], ARGV[4], 'received', ARGV[5], {'worker', ARGV[3], 'ts', now})
return 'ok'
