-- Move every scheduled message due at or before ARGV[1] onto the queue, earliest first.
-- KEYS[1]: the schedule sorted set; KEYS[2]: the queue list (LPUSH end is the tail).
-- One script, so a scheduler that dies midway leaves each message in exactly one place.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if #due == 0 then
  return 0
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for first = 1, #due, 1000 do
  redis.call('LPUSH', KEYS[2], unpack(due, first, math.min(first + 999, #due)))
end
return #due
