-- reconcile: re-queue a task whose message left its broker list without reaching a worker
-- (popped by kombu's BRPOP but never received: consumer killed in between, connection lost,
-- or a message dropped by Celery before relier's strategy saw it).
-- KEYS[1] record hash        KEYS[2] attempt history   KEYS[3] the list the copy was pushed to
-- KEYS[4] the queue's priority-0 list (where a new copy goes)
-- KEYS[5] dead-letter index  KEYS[6] event stream      KEYS[7] queued index (rl:queued)
-- KEYS[8] kombu's unacked hash                     KEYS[9] its index zset
-- KEYS[10] idempotency key (released if the task is dead-lettered; any unused key if none)
-- KEYS[11] SLO counters (rl:slo)
-- ARGV[1] task id            ARGV[2] event stream cap
-- ARGV[3] reconcile_after in ms: only tasks queued at least this long are examined
-- ARGV[4] most list elements to scan from the consuming end (LPOS MAXLEN)
-- Returns 'present' (still in its list), 'unknown' (list longer than the scan), 'requeued',
-- 'dead_lettered' (lost more often than its max_resurrections) or 'skip' (not a candidate).
-- Guarantees: a copy still in its list is never duplicated by this script; a false positive
-- (a copy popped and about to be received) only wastes a delivery, since its ticket turns
-- stale. Cost: one LPOS bounded by ARGV[4].
local now = now_ms()
local queued_at = redis.call('ZSCORE', KEYS[7], ARGV[1])
if not queued_at or redis.call('HGET', KEYS[1], 'state') ~= 'queued' then
  redis.call('ZREM', KEYS[7], ARGV[1])
  return 'skip'
end
if now - tonumber(queued_at) < tonumber(ARGV[3]) then
  return 'skip'
end
local fields = redis.call('HMGET', KEYS[1], 'head', 'tail', 'ticket')
local copy = fields[1] .. ticket_tag(ARGV[1], fields[3]) .. fields[2]
if redis.call('LPOS', KEYS[3], copy, 'RANK', -1, 'MAXLEN', ARGV[4]) then
  redis.call('ZADD', KEYS[7], now, ARGV[1])
  return 'present'
end
if redis.call('LLEN', KEYS[3]) > tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[7], now, ARGV[1])
  return 'unknown'
end
local task = {id = ARGV[1], rec = KEYS[1], hist = KEYS[2], list = KEYS[4], idem = KEYS[10]}
local shared = {dlq = KEYS[5], events = KEYS[6], maxlen = ARGV[2], queued = KEYS[7],
  unacked = KEYS[8], unacked_index = KEYS[9], slo = KEYS[11]}
local lost = redis.call('HINCRBY', KEYS[1], 'lost_in_broker', 1)
local cap = tonumber(redis.call('HGET', KEYS[1], 'max_resurrections') or '5')
redis.call('RPUSH', KEYS[2], cjson.encode({event = 'lost_in_broker', ts = now,
  ticket = tonumber(fields[3])}))
if lost > cap then
  return bury(task, shared, now, 'lost_in_broker',
    'its message left the broker without reaching a worker ' .. lost .. ' times', 'resurrector')
end
requeue_front(task, shared, now)
emit(KEYS[6], ARGV[2], 'reconciled', ARGV[1], {'ts', now})
return 'requeued'
