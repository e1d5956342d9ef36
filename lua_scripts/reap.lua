-- reap: the resurrector takes the tasks of one process whose lease expired; or, in mode
-- 'reserved', a worker's consumer returns the reserved tasks Celery forgot when its broker
-- connection closed (they never reached a pool process).
-- KEYS[1] lease index        KEYS[2] held set of the process
-- KEYS[3] event stream       KEYS[4] dead-letter index   KEYS[5] resurrector state hash
-- KEYS[6] queued index (rl:queued)   KEYS[7] kombu's unacked hash   KEYS[8] its index zset
-- KEYS[9] SLO counters (rl:slo)
-- KEYS[10..] per task, in ARGV order: record hash, attempt history, queue's priority-0 list,
-- idempotency key (any unused key when none)
-- ARGV[1] process id         ARGV[2] lease TTL ms     ARGV[3] refresh interval ms
-- ARGV[4] event stream cap   ARGV[5] mode: 'expired' or 'reserved'
-- ARGV[6..] task ids (a bounded batch of the held set)
-- Returns {status, re-queued, dead-lettered}; status 'ok', 'alive' (lease was refreshed since
-- the caller looked) or 'quiet' (within a gap's grace period). Mode 'reserved' skips the lease
-- checks, takes only tasks still reserved by this holder and keeps the lease.
-- Guarantees: everything re-validated here: the lease really expired on server time, each
-- task is still held by this process; a resurrector killed between batches loses nothing, and
-- two resurrectors racing on one process re-queue each task once.
local now = now_ms()
local expired_mode = ARGV[5] == 'expired'
if expired_mode then
  if now < tonumber(redis.call('HGET', KEYS[5], 'quiet_until') or '0') then
    return {'quiet', 0, 0}
  end
  local last = redis.call('ZSCORE', KEYS[1], ARGV[1])
  if not last or now <= tonumber(last) + tonumber(ARGV[2]) + tonumber(ARGV[3]) then
    return {'alive', 0, 0}
  end
end
local cause = 'lease expired'
if not expired_mode then
  cause = 'consumer reconnected'
end
local shared = {dlq = KEYS[4], events = KEYS[3], maxlen = ARGV[4], queued = KEYS[6],
  unacked = KEYS[7], unacked_index = KEYS[8], slo = KEYS[9]}
local requeued, buried = 0, 0
for i = 6, #ARGV do
  local base = 10 + (i - 6) * 4
  local task = {id = ARGV[i], rec = KEYS[base], hist = KEYS[base + 1], list = KEYS[base + 2],
    idem = KEYS[base + 3]}
  local state = redis.call('HGET', task.rec, 'state')
  local takeable = state == 'reserved' or (expired_mode and state == 'running')
  if takeable and redis.call('HGET', task.rec, 'holder') == ARGV[1] then
    redis.call('SREM', KEYS[2], task.id)
    local outcome = resurrect(task, shared, now, ARGV[1], cause)
    if outcome == 'queued' then requeued = requeued + 1 else buried = buried + 1 end
  elseif expired_mode or (state ~= 'reserved' and state ~= 'running') then
    redis.call('SREM', KEYS[2], task.id)  -- finished or taken elsewhere: stale membership
  end
end
if expired_mode and redis.call('SCARD', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return {'ok', requeued, buried}
