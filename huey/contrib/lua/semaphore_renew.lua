-- Renew holder ARGV[1]'s place in the semaphore KEYS[1] (see semaphore_acquire.lua), unless
-- it expired (or was released) first: a holder that lost its place does not get it back.
-- Drops expired holders (older than ARGV[2] seconds) as acquire does. Returns 1 if renewed.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[1])
return 1
