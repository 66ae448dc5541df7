-- Take up to ARGV[1] messages from the priority queue's front, in one step, recording
-- them in the consumer's in-flight list (newest on the left, like fetch_many.lua) so a
-- crash leaves each message in exactly one of the two. Runs after priority.lua.
-- KEYS[1]: the queue; KEYS[2]: the in-flight list; KEYS[3]: the consumer heartbeat set.
-- ARGV[2]: the consumer id ('' takes without in-flight tracking: dequeue);
-- ARGV[3]: now, the consumer's heartbeat if it has none yet.
local members = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local taken = {}
for i, member in ipairs(members) do
  taken[i] = string.sub(member, ORDER_KEY_SIZE + 1)
end
if #members > 0 then
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, #members - 1)
  if ARGV[2] ~= '' then
    for _, message in ipairs(taken) do
      redis.call('LPUSH', KEYS[2], message)
    end
    redis.call('ZADD', KEYS[3], 'NX', ARGV[3], ARGV[2])
  end
end
-- At most one wake-up token per queued message, so tokens never pile up.
local left = redis.call('ZCARD', KEYS[1])
if left == 0 then
  redis.call('DEL', KEYS[1] .. ':wake')
else
  redis.call('LTRIM', KEYS[1] .. ':wake', 0, left - 1)
end
return taken
