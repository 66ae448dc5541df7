-- Put consumers' in-flight messages back at the head of the queue and forget the consumers.
-- Runs after fifo.lua or priority.lua.
-- KEYS[1]: the queue; KEYS[2]: the consumer heartbeat sorted set.
-- ARGV[1]: in-flight list key prefix; ARGV[2]: 'consumer' or 'expired';
-- ARGV[3]: the consumer id, or the cutoff (consumers whose heartbeat is older are requeued).
-- In-flight keys are built from ARGV[1]; they carry the instance's {name} hash tag, so they
-- live in the same cluster slot as KEYS. Running as one script makes two concurrent callers
-- unable to requeue the same message twice.
local consumers
if ARGV[2] == 'expired' then
  consumers = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[3])
else
  consumers = {ARGV[3]}
end
local moved = 0
for _, consumer in ipairs(consumers) do
  local inflight = ARGV[1] .. consumer
  -- The newest fetch is leftmost: put_back leaves the oldest at the head.
  local items = redis.call('LRANGE', inflight, 0, -1)
  put_back(KEYS[1], items)
  moved = moved + #items
  redis.call('DEL', inflight)
  redis.call('ZREM', KEYS[2], consumer)
end
return moved
