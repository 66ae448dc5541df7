-- peek_or_emit for values kept under their own keys: read keys KEYS[2..]; when none of
-- them is set and ARGV[1] is '1', publish ARGV[2] on KEYS[1]. Returns the values.
local values = redis.call('MGET', unpack(KEYS, 2))
for i = 1, #values do
  if values[i] then
    return values
  end
end
if ARGV[1] == '1' then
  redis.call('PUBLISH', KEYS[1], ARGV[2])
end
return values
