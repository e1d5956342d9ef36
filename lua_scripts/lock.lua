-- lock: a manual idempotency lock (`idempotency_lock(key, ttl)`): acquire, commit or release.
-- KEYS[1] lock hash (rl:lock:<digest>: state held|done, token, result)   KEYS[2] event stream
-- ARGV[1] operation: 'acquire', 'commit' or 'release'
-- ARGV[2] token of the holder (random per acquisition)
-- ARGV[3] acquire: how long the hold lasts, ms; commit: how long the result is kept, ms
-- ARGV[4] commit: the encoded result      ARGV[5] event stream cap   ARGV[6] the user's key
-- Returns acquire: {'acquired', ''}, {'done', result} or {'held', ms left};
-- commit/release: {'ok', ''} or {'lost', ''} when the hold expired or passed to another holder.
-- Guarantees: one holder at a time; a commit stores the result once; a holder whose hold
-- expired cannot commit over a newer holder.
local op = ARGV[1]
local state = redis.call('HGET', KEYS[1], 'state')
if op == 'acquire' then
  if state == 'done' then
    return {'done', redis.call('HGET', KEYS[1], 'result') or ''}
  end
  if state == 'held' then
    return {'held', redis.call('PTTL', KEYS[1])}
  end
  redis.call('HSET', KEYS[1], 'state', 'held', 'token', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'acquired', ''}
end
if state ~= 'held' or redis.call('HGET', KEYS[1], 'token') ~= ARGV[2] then
  return {'lost', ''}
end
if op == 'commit' then
  redis.call('HSET', KEYS[1], 'state', 'done', 'result', ARGV[4])
  redis.call('HDEL', KEYS[1], 'token')
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  emit(KEYS[2], ARGV[5], 'lock_committed', ARGV[6], {'ts', redis.call('TIME')[1]})
  return {'ok', ''}
end
redis.call('DEL', KEYS[1])
return {'ok', ''}
