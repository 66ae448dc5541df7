-- Take one of ARGV[2] places in the semaphore KEYS[1] (a sorted set: holder -> the time it
-- last acquired or renewed) for holder ARGV[3]. Holders not renewed for ARGV[1] seconds are
-- dropped first; a holder already in keeps its place. Times are the server's, so clients'
-- clocks do not matter. Returns 1 when ARGV[3] holds a place.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
if not redis.call('ZSCORE', KEYS[1], ARGV[3]) and
    redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
return 1
