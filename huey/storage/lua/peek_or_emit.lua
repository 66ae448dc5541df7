-- Read fields ARGV[3..] of the hash KEYS[1]; when none of them is set and ARGV[1] is '1',
-- publish ARGV[2] on KEYS[2]. Returns the values (false for an unset field).
-- One script, so a worker checks revocations and announces a start in one round trip.
local values = redis.call('HMGET', KEYS[1], unpack(ARGV, 3))
for i = 1, #values do
  if values[i] then
    return values
  end
end
if ARGV[1] == '1' then
  redis.call('PUBLISH', KEYS[2], ARGV[2])
end
return values
