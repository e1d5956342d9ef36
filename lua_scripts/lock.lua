-- lock: a manual idempotency lock (`idempotency_lock(key, ttl)`): acquire, commit or release.
-- KEYS[9] lock              rl:lock:<digest>: state held|done, token, result
-- ARGV[2] op                'acquire', 'commit' or 'release'
-- ARGV[3] token             the holder's token (random per acquisition)
-- ARGV[4] ttl_ms            acquire: how long the hold lasts; commit: how long the result is kept
-- ARGV[5] result            commit: the encoded result
-- ARGV[6] key               the user's key (for the event)
-- Returns acquire: {'acquired', ''}, {'done', result} or {'held', ms left};
-- commit/release: {'ok', ''} or {'lost', ''} when the hold expired or passed to another holder.
-- Guarantees: one holder at a time; a commit stores the result once; a holder whose hold
-- expired cannot commit over a newer holder.
local lock, op = KEYS[9], ARGV[2]
local state = redis.call('HGET', lock, 'state')
if op == 'acquire' then
  if state == 'done' then
    return {'done', redis.call('HGET', lock, 'result') or ''}
  end
  if state == 'held' then
    return {'held', redis.call('PTTL', lock)}
  end
  redis.call('HSET', lock, 'state', 'held', 'token', ARGV[3])
  redis.call('PEXPIRE', lock, ARGV[4])
  return {'acquired', ''}
end
if state ~= 'held' or redis.call('HGET', lock, 'token') ~= ARGV[3] then
  return {'lost', ''}
end
if op == 'commit' then
  redis.call('HSET', lock, 'state', 'done', 'result', ARGV[5])
  redis.call('HDEL', lock, 'token')
  redis.call('PEXPIRE', lock, ARGV[4])
  emit('lock_committed', ARGV[6], 'ts', now_ms())
  return {'ok', ''}
end
redis.call('DEL', lock)
return {'ok', ''}
