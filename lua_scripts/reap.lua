-- reap: the resurrector takes the tasks of one process whose lease expired.
-- KEYS[1] lease index        KEYS[2] held set of the expired process
-- KEYS[3] event stream       KEYS[4] dead-letter index   KEYS[5] resurrector state hash
-- KEYS[6..] per task, in ARGV order: record hash, attempt history, queue's priority-0 list
-- ARGV[1] expired process id ARGV[2] lease TTL ms     ARGV[3] refresh interval ms
-- ARGV[4] event stream cap   ARGV[5..] task ids (a bounded batch of the held set)
-- Returns {status, re-queued, dead-lettered}; status 'ok', 'alive' (lease was refreshed since
-- the caller looked) or 'quiet' (within a gap's grace period).
-- Guarantees: everything re-validated here: the lease really expired on server time, each
-- task is still held by this process; a resurrector killed between batches loses nothing, and
-- two resurrectors racing on one process re-queue each task once.
local now = now_ms()
if now < tonumber(redis.call('HGET', KEYS[5], 'quiet_until') or '0') then
  return {'quiet', 0, 0}
end
local last = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not last then
  return {'alive', 0, 0}
end
if now <= tonumber(last) + tonumber(ARGV[2]) + tonumber(ARGV[3]) then
  return {'alive', 0, 0}
end
local requeued, buried = 0, 0
for i = 5, #ARGV do
  local task_id = ARGV[i]
  local base = 6 + (i - 5) * 3
  local rec = KEYS[base]
  if redis.call('SREM', KEYS[2], task_id) == 1 then
    local state = redis.call('HGET', rec, 'state')
    if (state == 'running' or state == 'reserved') and redis.call('HGET', rec, 'holder') == ARGV[1] then
      local outcome = resurrect(rec, KEYS[base + 1], KEYS[base + 2], KEYS[4], KEYS[3], ARGV[4],
        task_id, now, ARGV[1], 'lease expired')
      if outcome == 'queued' then requeued = requeued + 1 else buried = buried + 1 end
    end
  end
end
if redis.call('SCARD', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return {'ok', requeued, buried}
