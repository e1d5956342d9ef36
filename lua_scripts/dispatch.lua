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
-- Returns {'ok', task id} for a new task, or {'exists', task id} when the id already has a
-- record or the idempotency key is claimed by a task that is pending, running or completed
-- (then that task's id).
-- Guarantees: record and message are written together; an existing id is never pushed twice,
-- and one idempotency key has at most one live task.
local existing = redis.call('HGET', KEYS[1], 'state')
if existing then
  return {'exists', ARGV[1]}
end
if ARGV[8] ~= '' then
  local owner = redis.call('HGET', KEYS[5], 'task')
  if owner then
    return {'exists', owner}
  end
  redis.call('HSET', KEYS[5], 'task', ARGV[1], 'state', 'pending')
end
local now = now_ms()
local id = ARGV[1]
redis.call('HSET', KEYS[1],
  'state', 'queued', 'name', ARGV[2], 'queue', ARGV[3], 'list', KEYS[2],
  'head', ARGV[4], 'tail', ARGV[5], 'ticket', 1, 'fence', 0, 'attempt', 0,
  'resurrections', 0, 'max_resurrections', ARGV[9], 'deliveries', 1, 'version', ARGV[7],
  'idem', ARGV[8], 'front', ARGV[10],
  'created', now, 'updated', now)
redis.call('LPUSH', KEYS[2], ARGV[4] .. ticket_tag(id, 1) .. ARGV[5])
redis.call('ZADD', KEYS[4], now, id)
emit(KEYS[3], ARGV[6], 'dispatched', id, {'task', ARGV[2], 'queue', ARGV[3], 'ts', now})
return {'ok', id}
