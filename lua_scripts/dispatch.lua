-- dispatch: create a task's record and push its message (no record -> queued).
-- KEYS[1] record hash        rl:t:<id>
-- KEYS[2] broker list        the queue's kombu list for the task's priority
-- KEYS[3] event stream       rl:events
-- KEYS[4] queued index       rl:queued (id -> when it was queued, for reconciliation)
-- KEYS[5] idempotency key    rl:idem:<digest> (any unused key when ARGV[8] is '')
-- ARGV[1] task id            ARGV[2] task name        ARGV[3] queue name
-- ARGV[4] message head       ARGV[5] message tail     (the kombu message split around its tag)
-- ARGV[6] event stream cap   ARGV[7] task version     ARGV[8] idempotency key ('' for none)
-- ARGV[9] max resurrections before the task is dead-lettered
-- ARGV[10] the queue's priority-0 list, where recovered copies go (front of the queue)
-- Admission (checked before any write; limits in Redis override the declared ones):
-- KEYS[6] queue limits hash rl:adm:q:<queue>     KEYS[7] queue GCRA state rl:adm:q:<queue>:tat
-- KEYS[8] task limits hash rl:adm:t:<name>       KEYS[9] task GCRA state rl:adm:t:<name>:tat
-- KEYS[10..13] the queue's four priority lists (their total length is the queue's depth)
-- ARGV[11..13] declared queue rate (per s), burst, max depth; ARGV[14..16] the same for the
-- task (0 means no limit)
-- ARGV[17] dispatch nonce: unique per push call, repeated when the call retries after no answer
-- Returns {'ok', task id} for a new task, or {'exists', task id, nonce} when the id already has
-- a record (its nonce: equal to ARGV[17] when this very call's earlier try created it) or the
-- idempotency key is claimed by a task that is pending, running or completed (then that task's
-- id and ''), or {'rejected', retry after ms, scope, why} when admission refuses.
-- Guarantees: record and message are written together; an existing id is never pushed twice,
-- and one idempotency key has at most one live task; the GCRA buckets are exact under any
-- concurrency (one script at a time), and nothing is written for a rejected push but its
-- event.
local existing = redis.call('HGET', KEYS[1], 'state')
if existing then
  return {'exists', ARGV[1], redis.call('HGET', KEYS[1], 'nonce') or ''}
end
if ARGV[8] ~= '' then
  local owner = redis.call('HGET', KEYS[5], 'task')
  if owner then
    return {'exists', owner, ''}
  end
end
local now = now_ms()
local queue_bucket = admission_check(KEYS[6], KEYS[7], ARGV[11], ARGV[12], ARGV[13],
  {KEYS[10], KEYS[11], KEYS[12], KEYS[13]}, now)
local task_bucket = admission_check(KEYS[8], KEYS[9], ARGV[14], ARGV[15], ARGV[16], {}, now)
for _, verdict in ipairs({{'queue', queue_bucket}, {'task', task_bucket}}) do
  if verdict[2].rejected then
    emit(KEYS[3], ARGV[6], 'admission_rejected', ARGV[1], {'task', ARGV[2], 'queue', ARGV[3],
      'scope', verdict[1], 'why', verdict[2].why, 'retry_after_ms', verdict[2].retry_ms,
      'ts', now})
    return {'rejected', verdict[2].retry_ms, verdict[1], verdict[2].why}
  end
end
admission_commit(queue_bucket)
admission_commit(task_bucket)
if ARGV[8] ~= '' then
  redis.call('HSET', KEYS[5], 'task', ARGV[1], 'state', 'pending')
end
local id = ARGV[1]
redis.call('HSET', KEYS[1],
  'state', 'queued', 'name', ARGV[2], 'queue', ARGV[3], 'list', KEYS[2],
  'head', ARGV[4], 'tail', ARGV[5], 'ticket', 1, 'fence', 0, 'attempt', 0,
  'resurrections', 0, 'max_resurrections', ARGV[9], 'deliveries', 1, 'version', ARGV[7],
  'idem', ARGV[8], 'front', ARGV[10], 'nonce', ARGV[17],
  'created', now, 'updated', now)
redis.call('LPUSH', KEYS[2], ARGV[4] .. ticket_tag(id, 1) .. ARGV[5])
redis.call('ZADD', KEYS[4], now, id)
emit(KEYS[3], ARGV[6], 'dispatched', id, {'task', ARGV[2], 'queue', ARGV[3], 'ts', now})
return {'ok', id}
