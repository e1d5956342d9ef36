-- refresh: renew the leases of live processes (one call per interval per worker).
-- ARGV[2..] processes       the process ids to renew
-- Returns the ids whose lease had been removed (reaped): they are fenced off, and get a
-- fresh lease so the caller can tell (the worker kills such a pool process).
-- Guarantees: one ZADD per process; server time only.
local now = now_ms()
local missing = {}
for i = 2, #ARGV do
  if redis.call('ZADD', LEASES, 'XX', 'CH', now, ARGV[i]) == 0 then
    if not redis.call('ZSCORE', LEASES, ARGV[i]) then
      redis.call('ZADD', LEASES, now, ARGV[i])
      missing[#missing + 1] = ARGV[i]
    end
  end
end
return missing
