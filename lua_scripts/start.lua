-- start: a pool process is about to run the body (queued/reserved -> running).
-- KEYS[1] record hash        KEYS[2] attempt history   KEYS[3] event stream
-- KEYS[4] held set of this process   KEYS[5] lease index (rl:leases)
-- KEYS[6] held set of the reserving consumer (rl:held:<record holder>; any key when queued)
-- KEYS[7] queued index (rl:queued)      KEYS[8] idempotency key (any unused key when none)
-- KEYS[9] delayed set (rl:delayed: id -> due, server ms)   KEYS[10] SLO counters (rl:slo)
-- ARGV[1] delivery tag of the copy being run     ARGV[2] worker node (node name/pid)
-- ARGV[3] process id (node name/pid of the pool process)
-- ARGV[4] event stream cap   ARGV[5] task id
-- ARGV[6] start token: unique per start attempt by the caller, repeated on retries
-- ARGV[7] '1' when the task is idempotent     ARGV[8] delay in ms before a deferred copy
-- ARGV[9] TTL in seconds of a record completed from another task's stored result
-- Idempotent tasks: if another task already completed the same key, this one completes with
-- that result without running ({'done', ''}); if another holds the key in flight, this copy is
-- deferred through the delayed set ({'deferred', owner}); else this attempt takes the claim.
-- Returns {'ok', fence, attempt, checkpoint ('' when none)} or {'stale', state} / {'missing', ''}. A retry carrying the
-- start token of the call that started this attempt gets the same grant back (its first reply
-- was lost); any other caller is stale.
-- Guarantees: succeeds at most once per ticket; every attempt, the first included, gets a
-- new fence here, and only the holder of the current fence may complete or fail the task.
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  return {'missing', ''}
end
local ticket = redis.call('HGET', KEYS[1], 'ticket')
if ARGV[1] ~= ticket_tag(ARGV[5], ticket) then
  return {'stale', state}
end
if state == 'running' and redis.call('HGET', KEYS[1], 'start_token') == ARGV[6] then
  -- a retry after a lost reply: this very process already holds this ticket's attempt
  local grant = redis.call('HMGET', KEYS[1], 'fence', 'attempt', 'partial')
  return {'ok', tonumber(grant[1]), tonumber(grant[2]), grant[3] or ''}
end
if state == 'reserved' then
  if redis.call('HGET', KEYS[1], 'worker') ~= ARGV[2] then
    return {'stale', state}
  end
elseif state ~= 'queued' then
  return {'stale', state}
end
local now = now_ms()
if state == 'reserved' then
  redis.call('SREM', KEYS[6], ARGV[5])
end
if ARGV[7] == '1' then
  local owner = redis.call('HGET', KEYS[8], 'task')
  if owner and owner ~= ARGV[5] then
    redis.call('ZREM', KEYS[7], ARGV[5])
    redis.call('HDEL', KEYS[1], 'holder')
    if redis.call('HGET', KEYS[8], 'state') == 'completed' then
      redis.call('HSET', KEYS[1], 'state', 'completed', 'result',
        redis.call('HGET', KEYS[8], 'result'), 'deduplicated', owner, 'ended', now,
        'updated', now)
      redis.call('EXPIRE', KEYS[1], ARGV[9])
      count_outcome(KEYS[10], redis.call('HGET', KEYS[1], 'name'), true, now)
      redis.call('RPUSH', KEYS[2], cjson.encode({event = 'deduplicated', from = owner, ts = now}))
      emit(KEYS[3], ARGV[4], 'completed', ARGV[5], {'deduplicated', owner, 'ts', now})
      return {'done', owner}
    end
    local due = now + tonumber(ARGV[8])
    redis.call('HINCRBY', KEYS[1], 'ticket', 1)
    redis.call('HSET', KEYS[1], 'state', 'scheduled', 'due', due, 'updated', now)
    redis.call('ZADD', KEYS[9], due, ARGV[5])
    redis.call('RPUSH', KEYS[2], cjson.encode({event = 'deferred', waiting_for = owner, ts = now}))
    emit(KEYS[3], ARGV[4], 'deferred', ARGV[5], {'waiting_for', owner, 'due', due, 'ts', now})
    return {'deferred', owner}
  end
end
redis.call('SADD', KEYS[4], ARGV[5])
redis.call('ZREM', KEYS[7], ARGV[5])
redis.call('ZADD', KEYS[5], 'NX', now, ARGV[3])
local fence = redis.call('HINCRBY', KEYS[1], 'fence', 1)
local attempt = redis.call('HINCRBY', KEYS[1], 'attempt', 1)
if ARGV[7] == '1' then
  -- take the claim, or take it over from this task's earlier (dead or fenced-off) attempt
  redis.call('HSET', KEYS[8], 'task', ARGV[5], 'state', 'running', 'fence', fence)
end
redis.call('HSET', KEYS[1], 'state', 'running', 'holder', ARGV[3], 'worker', ARGV[2],
  'started', now, 'updated', now, 'start_token', ARGV[6])
redis.call('RPUSH', KEYS[2], cjson.encode({event = 'started', attempt = attempt, fence = fence,
  worker = ARGV[3], ts = now}))
emit(KEYS[3], ARGV[4], 'started', ARGV[5],
  {'attempt', attempt, 'fence', fence, 'worker', ARGV[3], 'ts', now})
return {'ok', fence, attempt, redis.call('HGET', KEYS[1], 'partial') or ''}
