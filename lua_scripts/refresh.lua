-- refresh: a worker's main process renews the leases of itself and its live pool processes.
-- KEYS[1] lease index (rl:leases: process id -> last refresh, server ms)
-- ARGV[1..n] process ids to renew
-- Returns the ids whose lease was missing (reaped, or never created); they are created again.
-- Guarantees: one round trip per interval per worker, whatever the number of tasks held.
local now = now_ms()
local missing = {}
for i = 1, #ARGV do
  if redis.call('ZADD', KEYS[1], 'XX', 'CH', now, ARGV[i]) == 0 then
    if not redis.call('ZSCORE', KEYS[1], ARGV[i]) then
      redis.call('ZADD', KEYS[1], now, ARGV[i])
      missing[#missing + 1] = ARGV[i]
    end
  end
end
return missing
