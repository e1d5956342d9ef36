-- start: a pool process is about to run the body (queued/reserved -> running).
-- KEYS[9] record            KEYS[10] history
-- KEYS[11] process_held     rl:held:<process>, the tasks this pool process runs
-- KEYS[12] reserver_held    rl:held:<worker>, the reserving consumer's (any key when queued)
-- KEYS[13] idem             the idempotency key (any unused key when none)
-- ARGV[2] tag               the delivery tag of the copy being run
-- ARGV[3] worker            the worker node (node name/pid)
-- ARGV[4] process           the pool process (node name/pid)
-- ARGV[5] task_id
-- ARGV[6] start_token       unique per start attempt by the caller, repeated on retries
-- ARGV[7] idempotent        '1' when the task is idempotent
-- ARGV[8] defer_ms          delay before a deferred copy is pushed again
-- ARGV[9] result_ttl_ms     TTL of a record that ends here (deduplicated, or expired)
-- Idempotent tasks: if another task already completed the same key, this one completes with
-- that result without running ({'done', owner}); if another holds the key in flight, this copy
-- is deferred through the delayed set ({'deferred', owner}); else this attempt takes the claim.
-- A task whose `expires` (server ms) has passed is cancelled instead ({'cancelled', 'expired'}).
-- Returns {'ok', fence, attempt, checkpoint ('' when none), failures so far} or
-- {'stale', state} / {'missing', ''}. A retry carrying the start token of the call that started this attempt gets
-- the same grant back (its first reply was lost); any other caller is stale.
-- Guarantees: succeeds at most once per ticket; every attempt, the first included, gets a
-- new fence here, and only the holder of the current fence may complete or fail the task.
local rec, hist, process_held, reserver_held, idem = KEYS[9], KEYS[10], KEYS[11], KEYS[12],
  KEYS[13]
local id = ARGV[5]
local task = {id = id, rec = rec, hist = hist, idem = idem}
-- one read of every field this script decides on
local r = redis.call('HMGET', rec, 'state', 'ticket', 'start_token', 'worker', 'expires',
  'fence', 'attempt', 'partial', 'failures', 'name')
local state, ticket, expires = r[1], r[2], r[5]
local fence, attempt = tonumber(r[6] or '0'), tonumber(r[7] or '0')
local partial, failures = r[8] or '', tonumber(r[9] or '0')
if not state then
  return {'missing', ''}
end
if ARGV[2] ~= ticket_tag(id, ticket) then
  return {'stale', state}
end
if state == 'running' and r[3] == ARGV[6] then
  -- a retry after a lost reply: this very process already holds this ticket's attempt
  return {'ok', fence, attempt, partial, failures}
end
if state == 'reserved' then
  if r[4] ~= ARGV[3] then
    return {'stale', state}
  end
elseif state ~= 'queued' then
  return {'stale', state}
end
local now = now_ms()
if state == 'reserved' then
  redis.call('SREM', reserver_held, id)
end
if expires and now > tonumber(expires) then
  return {cancel(task, now, 'expired', ARGV[9]), 'expired'}
end
if ARGV[7] == '1' then
  local owner = redis.call('HGET', idem, 'task')
  if owner and owner ~= id then
    redis.call('ZREM', QUEUED, id)
    redis.call('HDEL', rec, 'holder')
    if redis.call('HGET', idem, 'state') == 'completed' then
      redis.call('HSET', rec, 'state', 'completed', 'result',
        redis.call('HGET', idem, 'result'), 'deduplicated', owner, 'ended', now,
        'updated', now)
      redis.call('PEXPIRE', rec, ARGV[9])
      count_outcome(r[10], true, now)
      remember(task, {event = 'deduplicated', from = owner, ts = now})
      emit('completed', id, 'deduplicated', owner, 'ts', now)
      return {'done', owner}
    end
    local due = now + tonumber(ARGV[8])
    schedule(task, now, due)
    remember(task, {event = 'deferred', waiting_for = owner, ts = now})
    emit('deferred', id, 'waiting_for', owner, 'due', due, 'ts', now)
    return {'deferred', owner}
  end
end
redis.call('SADD', process_held, id)
redis.call('ZREM', QUEUED, id)
redis.call('ZADD', LEASES, 'NX', now, ARGV[4])
fence, attempt = fence + 1, attempt + 1  -- read above in this script: nothing wrote them since
if ARGV[7] == '1' then
  -- take the claim, or take it over from this task's earlier (dead or fenced-off) attempt
  redis.call('HSET', idem, 'task', id, 'state', 'running', 'fence', fence)
end
redis.call('HSET', rec, 'state', 'running', 'holder', ARGV[4], 'worker', ARGV[3],
  'started', now, 'updated', now, 'start_token', ARGV[6], 'fence', fence, 'attempt', attempt,
  'started_fence', fence)
emit('started', id, 'attempt', attempt, 'fence', fence, 'worker', ARGV[4], 'ts', now)
return {'ok', fence, attempt, partial, failures}
