-- pop_data for a value kept under its own key KEYS[1]: take it, delete its wake-up token
-- KEYS[2], and keep it ARGV[1] seconds under the caller's receipt KEYS[3], so a pop whose
-- reply was lost can be sent again and returns the same value.
local kept = redis.call('GET', KEYS[3])
if kept then
  return kept
end
local value = redis.call('GET', KEYS[1])
if value then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[3], value, 'EX', ARGV[1])
end
redis.call('DEL', KEYS[2])
return value
