-- tick: start a resurrector pass: note the server time; after a gap (Redis stopped or
-- restarted, every resurrector paused), reap nothing until one lease TTL has passed.
-- KEYS[9] resurrector       rl:reaper: last (ms), quiet_until (ms)
-- ARGV[2] lease_ttl_ms      ARGV[3] gap_ms          a pause longer than this starts the quiet
-- Returns {now, quiet_until} in ms.
-- Guarantees: a gap in Redis time never makes live leases look expired.
local state = KEYS[9]
local now = now_ms()
local last = tonumber(redis.call('HGET', state, 'last') or '0')
local quiet = tonumber(redis.call('HGET', state, 'quiet_until') or '0')
if last > 0 and now - last > tonumber(ARGV[3]) then
  quiet = now + tonumber(ARGV[2])
  redis.call('HSET', state, 'quiet_until', quiet)
end
redis.call('HSET', state, 'last', now)
return {now, quiet}
