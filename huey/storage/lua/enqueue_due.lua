-- Move every scheduled message due at or before ARGV[1] onto the queue, earliest first.
-- Runs after fifo.lua or priority.lua. KEYS[1]: the schedule sorted set; KEYS[2]: the queue.
-- One script, so a scheduler that dies midway leaves each message in exactly one place.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if #due == 0 then
  return 0
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
append(KEYS[2], due)
return #due
