-- Take field ARGV[1] of the result hash KEYS[1] and delete its wake-up token KEYS[2].
-- The value is also kept for ARGV[2] seconds under the caller's receipt KEYS[3], and a
-- call finding its receipt returns that instead: a pop whose reply was lost can be sent
-- again and still returns the value it took, so a second run changes nothing.
local kept = redis.call('GET', KEYS[3])
if kept then
  return kept
end
local value = redis.call('HGET', KEYS[1], ARGV[1])
if value then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SET', KEYS[3], value, 'EX', ARGV[2])
end
redis.call('DEL', KEYS[2])
return value
