-- purge: delete dead letters for good.
-- KEYS[1] dead-letter index  KEYS[2] event stream
-- KEYS[3..] per entry: record hash, attempt history
-- ARGV[1] event stream cap   ARGV[2] why ('purge' by an operator, 'retention' by the
-- resurrector)               ARGV[3..] entry ids, in KEYS order
-- Returns the number of entries deleted.
-- Guarantees: only entries still in the dead letters, with a dead_lettered record, are
-- deleted; one event records how many went and why.
local deleted = 0
for i = 3, #ARGV do
  local base = 3 + (i - 3) * 2
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    local state = redis.call('HGET', KEYS[base], 'state')
    if state == 'dead_lettered' or not state then
      redis.call('ZREM', KEYS[1], ARGV[i])
      redis.call('DEL', KEYS[base], KEYS[base + 1])
      deleted = deleted + 1
    end
  end
end
if deleted > 0 then
  emit(KEYS[2], ARGV[1], 'dlq_purged', '', {'count', deleted, 'why', ARGV[2],
    'ts', redis.call('TIME')[1]})
end
return deleted
