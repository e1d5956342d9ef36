-- dispatch: create a task's record and push its message (no record -> queued).
-- KEYS[9] record            rl:t:<id>
-- KEYS[10] list             the queue's kombu list for the task's priority
-- KEYS[11] idem             rl:idem:<digest> (any unused key when there is no digest)
-- KEYS[12] limits           rl:adm:live, every live override (fields <scope><limit>)
-- KEYS[13] queue_tat        rl:adm:q:<queue>:tat, the queue's GCRA state
-- KEYS[14] task_tat         rl:adm:t:<name>:tat, the task's GCRA state
-- KEYS[15] step0            the queue's four priority lists (their total length is its depth)
-- KEYS[16] step3
-- KEYS[17] step6
-- KEYS[18] step9
-- ARGV[2] task_id           ARGV[3] task_name          ARGV[4] queue
-- ARGV[5] message           the kombu message packed around its tag (relier.packing)
-- ARGV[6] version           ARGV[7] idem_digest        ('' for none)
-- ARGV[8] max_resurrections before the task is dead-lettered
-- ARGV[9] front             the queue's priority-0 list, where recovered copies go
-- ARGV[10] queue_rate       ARGV[11] queue_burst       ARGV[12] queue_max_depth
-- ARGV[13] task_rate        ARGV[14] task_burst        ARGV[15] task_max_depth
-- ARGV[16] nonce            unique per push call, repeated when the call retries after no answer
-- ARGV[17] due_ms           when the task may run (eta), epoch ms; '' for now
-- ARGV[18] delay_ms         or how long from now (countdown, on this server's clock); ''
-- ARGV[19] expires_ms       when the task expires if it has not started, epoch ms; ''
-- ARGV[20] expires_in_ms    or how long from now; '' for never
-- ARGV[21] queue_scope      'q:<queue>:', the queue's fields in `limits` (then rate, burst,
-- ARGV[22] task_scope       max_depth); 't:<name>:', the task's
-- Declared limits: rate per second, burst, max depth; 0 means no limit; live limits win.
-- A task due later is scheduled (the delayed set; the resurrector pushes it when due).
-- Returns {'ok', task id} for a new task, or {'exists', task id, nonce} when the id already has
-- a record (its nonce: this call's own when this very call's earlier try created it) or the
-- idempotency key is claimed by a task that is pending, running or completed (then that task's
-- id and ''), or {'rejected', retry after ms, scope, why} when admission refuses.
-- Guarantees: record and message are written together; an existing id is never pushed twice,
-- and one idempotency key has at most one live task; the GCRA buckets are exact under any
-- concurrency (one script at a time), and nothing is written for a rejected push but its
-- event.
local rec, list, idem = KEYS[9], KEYS[10], KEYS[11]
local id = ARGV[2]
local existing = redis.call('HGET', rec, 'state')
if existing then
  return {'exists', id, redis.call('HGET', rec, 'nonce') or ''}
end
if ARGV[7] ~= '' then
  local owner = redis.call('HGET', idem, 'task')
  if owner then
    return {'exists', owner, ''}
  end
end
local now = now_ms()
local qs, ts = ARGV[21], ARGV[22]
local live = redis.call('HMGET', KEYS[12], qs .. 'rate', qs .. 'burst', qs .. 'max_depth',
  ts .. 'rate', ts .. 'burst', ts .. 'max_depth')
-- no live override and no declared rate or queue depth: nothing to check (most pushes)
local limited = live[1] or live[2] or live[3] or live[4] or live[5] or live[6]
  or (tonumber(ARGV[10]) or 0) > 0 or (tonumber(ARGV[12]) or 0) > 0
  or (tonumber(ARGV[13]) or 0) > 0
if limited then
  local queue_bucket = admission_check({live[1], live[2], live[3]}, KEYS[13], ARGV[10],
    ARGV[11], ARGV[12], {KEYS[15], KEYS[16], KEYS[17], KEYS[18]}, now)
  local task_bucket = admission_check({live[4], live[5], live[6]}, KEYS[14], ARGV[13],
    ARGV[14], ARGV[15], {}, now)
  for _, verdict in ipairs({{'queue', queue_bucket}, {'task', task_bucket}}) do
    if verdict[2].rejected then
      emit('admission_rejected', id, 'task', ARGV[3], 'queue', ARGV[4], 'scope', verdict[1],
        'why', verdict[2].why, 'retry_after_ms', verdict[2].retry_ms, 'ts', now)
      return {'rejected', verdict[2].retry_ms, verdict[1], verdict[2].why}
    end
  end
  admission_commit(queue_bucket)
  admission_commit(task_bucket)
end
create_task({id = id, rec = rec, list = list, idem = idem, name = ARGV[3], queue = ARGV[4],
  message = ARGV[5], version = ARGV[6], digest = ARGV[7], max_res = ARGV[8],
  front = ARGV[9], nonce = ARGV[16], due = ARGV[17], delay = ARGV[18], expires = ARGV[19],
  expires_in = ARGV[20]}, now)
return {'ok', id}
