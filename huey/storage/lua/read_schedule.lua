-- Remove and return every scheduled message due at or before ARGV[1], earliest first.
-- KEYS[1]: the schedule sorted set. One script, so two schedulers never both take a message.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if #due > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
end
return due
