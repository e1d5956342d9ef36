-- dead_letter_raw: keep a message that failed to decode or verify, with its raw bytes.
-- KEYS[1] entry record hash (rl:t:<entry id>, a fresh id, never the id the message claims)
-- KEYS[2] dead-letter index (zset)                KEYS[3] event stream
-- ARGV[1] entry id           ARGV[2] reason          ARGV[3] error text
-- ARGV[4] raw body bytes     ARGV[5] raw headers (JSON, as received)
-- ARGV[6] task id the headers claim               ARGV[7] task name the headers claim
-- ARGV[8] queue (routing key)                     ARGV[9] event stream cap
-- Returns 'ok', or 'exists' when this copy was already dead-lettered.
-- Guarantees: the bytes are kept verbatim; an existing record is never overwritten.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 'exists'
end
local now = now_ms()
redis.call('HSET', KEYS[1], 'state', 'dead_lettered', 'reason', ARGV[2], 'error', ARGV[3],
  'exc_type', '', 'traceback', '', 'raw', ARGV[4], 'raw_headers', ARGV[5],
  'claimed_id', ARGV[6], 'name', ARGV[7], 'queue', ARGV[8], 'fence', 0, 'attempt', 0,
  'created', now, 'ended', now, 'updated', now)
redis.call('ZADD', KEYS[2], now, ARGV[1])
emit(KEYS[3], ARGV[9], 'dead_lettered', ARGV[1],
  {'reason', ARGV[2], 'task', ARGV[7], 'queue', ARGV[8], 'ts', now})
return 'ok'
