-- purge: delete dead letters for good.
-- KEYS[9..] per entry, in ARGV order: record, history
-- ARGV[2] why               'purge' by an operator, 'retention' by the resurrector
-- ARGV[3..] entry ids
-- Returns the number of entries deleted.
-- Guarantees: only entries still in the dead letters, with a dead_lettered record, are
-- deleted; one event records how many went and why.
local deleted = 0
for i = 3, #ARGV do
  local base = 9 + (i - 3) * 2
  if redis.call('ZSCORE', DLQ, ARGV[i]) then
    local state = redis.call('HGET', KEYS[base], 'state')
    if state == 'dead_lettered' or not state then
      redis.call('ZREM', DLQ, ARGV[i])
      redis.call('DEL', KEYS[base], KEYS[base + 1])
      deleted = deleted + 1
    end
  end
end
if deleted > 0 then
  emit('dlq_purged', '', 'count', deleted, 'why', ARGV[2], 'ts', now_ms())
end
return deleted
