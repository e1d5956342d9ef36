-- reap: the resurrector takes the tasks of one process whose lease expired; or, in mode
-- 'reserved', a worker's consumer returns the reserved tasks Celery forgot when its broker
-- connection closed (they never reached a pool process).
-- KEYS[9] held              rl:held:<process>
-- KEYS[10] resurrector      rl:reaper (its quiet_until)
-- KEYS[11..] per task, in ARGV order: record, history, front, idem
-- ARGV[2] process           ARGV[3] lease_ttl_ms    ARGV[4] refresh_ms
-- ARGV[5] mode              'expired' or 'reserved'
-- ARGV[6..] task ids        a bounded batch of the held set
-- Returns {status, re-queued, dead-lettered}; status 'ok', 'alive' (lease was refreshed since
-- the caller looked) or 'quiet' (within a gap's grace period). Mode 'reserved' skips the lease
-- checks, takes only tasks still reserved by this holder and keeps the lease.
-- Guarantees: everything re-validated here: the lease really expired on server time, each
-- task is still held by this process; a resurrector killed between batches loses nothing, and
-- two resurrectors racing on one process re-queue each task once.
local held, process = KEYS[9], ARGV[2]
local now = now_ms()
local expired_mode = ARGV[5] == 'expired'
if expired_mode then
  if now < tonumber(redis.call('HGET', KEYS[10], 'quiet_until') or '0') then
    return {'quiet', 0, 0}
  end
  local last = redis.call('ZSCORE', LEASES, process)
  if not last or now <= tonumber(last) + tonumber(ARGV[3]) + tonumber(ARGV[4]) then
    return {'alive', 0, 0}
  end
end
local cause = 'lease expired'
if not expired_mode then
  cause = 'consumer reconnected'
end
local requeued, buried = 0, 0
for i = 6, #ARGV do
  local base = 11 + (i - 6) * 4
  local task = {id = ARGV[i], rec = KEYS[base], hist = KEYS[base + 1], list = KEYS[base + 2],
    idem = KEYS[base + 3]}
  local state = redis.call('HGET', task.rec, 'state')
  local takeable = state == 'reserved' or (expired_mode and state == 'running')
  if takeable and redis.call('HGET', task.rec, 'holder') == process then
    redis.call('SREM', held, task.id)
    local outcome = resurrect(task, now, process, cause)
    if outcome == 'queued' then requeued = requeued + 1 else buried = buried + 1 end
  elseif expired_mode or (state ~= 'reserved' and state ~= 'running') then
    redis.call('SREM', held, task.id)  -- finished or taken elsewhere: stale membership
  end
end
if expired_mode and redis.call('SCARD', held) == 0 then
  redis.call('ZREM', LEASES, process)
end
return {'ok', requeued, buried}
