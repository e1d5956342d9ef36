-- release: an operator sends a dead letter back to work (dead_lettered -> queued).
-- KEYS[1] record hash        KEYS[2] attempt history   KEYS[3] the queue's priority-0 list
-- KEYS[4] dead-letter index  KEYS[5] queued index      KEYS[6] event stream
-- KEYS[7] kombu's unacked hash                         KEYS[8] its index zset
-- ARGV[1] task id            ARGV[2] event stream cap  ARGV[3] who released it (for history)
-- Returns 'queued', 'missing' (no such dead letter), 'not_dead_lettered' or 'unreleasable'
-- (a message that failed to decode or verify: it has no trusted envelope to run).
-- Guarantees: atomic: the entry leaves the dead letters in the same script that re-queues the
-- task with a new ticket and fence, so a release either happens or says why not. Counters of
-- failures, bounces and resurrections restart, so the task gets its full allowance again.
if not redis.call('ZSCORE', KEYS[4], ARGV[1]) then
  return 'missing'
end
if redis.call('HGET', KEYS[1], 'state') ~= 'dead_lettered' then
  return 'not_dead_lettered'
end
if not redis.call('HGET', KEYS[1], 'head') then
  return 'unreleasable'
end
local now = now_ms()
local reason = redis.call('HGET', KEYS[1], 'reason')
local fence = redis.call('HINCRBY', KEYS[1], 'fence', 1)
redis.call('HSET', KEYS[1], 'failures', 0, 'bounces', 0, 'resurrections', 0,
  'lost_in_broker', 0, 'released_at', now)
redis.call('HDEL', KEYS[1], 'ended', 'reason', 'result')
redis.call('HINCRBY', KEYS[1], 'releases', 1)
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('PERSIST', KEYS[1])
redis.call('PERSIST', KEYS[2])
redis.call('RPUSH', KEYS[2], cjson.encode({event = 'released', by = ARGV[3], reason = reason,
  ts = now}))
requeue_front({id = ARGV[1], rec = KEYS[1], hist = KEYS[2], list = KEYS[3]},
  {queued = KEYS[5], unacked = KEYS[7], unacked_index = KEYS[8]}, now)
emit(KEYS[6], ARGV[2], 'released', ARGV[1], {'reason', reason, 'by', ARGV[3], 'fence', fence,
  'ts', now})
return 'queued'
