-- Take away a value of the wrong type found under the queue's key (something other than
-- huey wrote it), so the queue can work again; the caller records it in the error store.
-- KEYS[1]: the queue; ARGV[1]: its type ('list' or 'zset'). Returns {type, value} (a
-- string's bytes, any other type's DUMP), or nil when the key is absent or of that type (the WRONGTYPE came from elsewhere).
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' or kind == ARGV[1] then
  return nil
end
local value
if kind == 'string' then
  value = redis.call('GET', KEYS[1])
else
  value = redis.call('DUMP', KEYS[1])
end
redis.call('DEL', KEYS[1])
return {kind, value}
