-- tick: a resurrector pass begins; detect gaps in reachable Redis time.
-- KEYS[1] resurrector state hash (rl:reaper: last, quiet_until)
-- ARGV[1] lease TTL in ms    ARGV[2] gap in ms after which reaping pauses for one TTL
-- Returns {now, quiet_until} in server ms.
-- Guarantees: after Redis was unreachable, stopped or restarted, or every resurrector was
-- paused, nothing is reaped until workers had one full TTL to refresh their leases.
local now = now_ms()
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
local quiet = tonumber(redis.call('HGET', KEYS[1], 'quiet_until') or '0')
if last > 0 and now - last > tonumber(ARGV[2]) then
  quiet = now + tonumber(ARGV[1])
  redis.call('HSET', KEYS[1], 'quiet_until', quiet)
end
redis.call('HSET', KEYS[1], 'last', now)
return {now, quiet}
