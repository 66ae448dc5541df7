-- Move up to ARGV[1] messages from the queue's head to a consumer's in-flight list, in one
-- step, so a crash leaves each message in exactly one of the two.
-- KEYS[1]: the queue (head = right end); KEYS[2]: the consumer's in-flight list (newest on
-- the left, like a blocking fetch leaves it); KEYS[3]: the consumer heartbeat sorted set.
-- ARGV[2]: the consumer id; ARGV[3]: now, its heartbeat if it has none yet.
local taken = {}
for i = 1, tonumber(ARGV[1]) do
  local message = redis.call('RPOPLPUSH', KEYS[1], KEYS[2])
  if not message then
    break
  end
  taken[i] = message
end
if #taken > 0 then
  redis.call('ZADD', KEYS[3], 'NX', ARGV[3], ARGV[2])
end
return taken
