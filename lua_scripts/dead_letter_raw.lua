-- dead_letter_raw: keep a message that failed to decode or verify, with its raw bytes.
-- KEYS[9] entry             rl:t:<entry id>: a fresh id, never the id the message claims
-- ARGV[2] entry_id          ARGV[3] reason          ARGV[4] error
-- ARGV[5] raw               the element's (or body's) bytes, verbatim
-- ARGV[6] headers           the headers as received (JSON)
-- ARGV[7] claimed_id        the task id the headers claim
-- ARGV[8] claimed_name      the task name the headers claim
-- ARGV[9] queue             where the element was
-- Returns 'ok', or 'exists' when this entry id was already written.
-- Guarantees: the bytes are kept verbatim; an existing record is never overwritten.
local entry = KEYS[9]
if redis.call('EXISTS', entry) == 1 then
  return 'exists'
end
local now = now_ms()
redis.call('HSET', entry, 'state', 'dead_lettered', 'reason', ARGV[3], 'error', ARGV[4],
  'exc_type', '', 'traceback', '', 'raw', ARGV[5], 'raw_headers', ARGV[6],
  'claimed_id', ARGV[7], 'name', ARGV[8], 'queue', ARGV[9], 'fence', 0, 'attempt', 0,
  'created', now, 'ended', now, 'updated', now)
redis.call('ZADD', DLQ, now, ARGV[2])
emit('dead_lettered', ARGV[2], 'reason', ARGV[3], 'task', ARGV[8], 'queue', ARGV[9], 'ts', now)
return 'ok'
