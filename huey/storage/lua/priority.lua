-- How the priority queue (PriorityRedisStorage) takes messages in: the scripts that move
-- messages into the queue start with this file or with fifo.lua.
-- The queue is a sorted set scored -priority, so it starts with the highest priority.
-- Each member is a 17-byte order key then the message, and equal scores sort by member:
-- "1" and a rising counter for the tail, "0" and a falling one for the head, so equal
-- priorities leave first in, first out and a message put back leaves before the others.
-- Every message added also adds a token to <queue>:wake, where idle fetches block.
-- Keys derived from the queue's carry its {name} hash tag (same cluster slot).
local ORDER_KEY_SIZE = 17

-- The first step's priority, as huey.message.priority_of reads it: a 6-byte header
-- (format version 3, signed flag, metadata length), the 32-byte signature when signed,
-- then the steps' JSON, whose 7th field is the priority. 0 when absent or unreadable.
local function priority_of(message)
  local ok, priority = pcall(function()
    local version, signed, size = struct.unpack('>BBI4', message)
    if version ~= 3 then
      return 0
    end
    local start = 7 + (signed ~= 0 and 32 or 0)
    return cjson.decode(string.sub(message, start, start + size - 1))[1][7]
  end)
  if ok and type(priority) == 'number' and priority == math.floor(priority) then
    return priority
  end
  return 0
end

-- A given priority (huey 3's enqueue argument) overrides the messages' own.
local function add(queue, items, at_head, priority)
  local counter = queue .. (at_head and ':head' or ':tail')
  for _, message in ipairs(items) do
    local n = redis.call('INCR', counter)
    local order = at_head and ('0' .. string.format('%016d', 1e15 - n))
      or ('1' .. string.format('%016d', n))
    redis.call('ZADD', queue, -(priority or priority_of(message)), order .. message)
  end
  for first = 1, #items, 1000 do
    local tokens = {}
    for i = first, math.min(first + 999, #items) do
      tokens[#tokens + 1] = '1'
    end
    redis.call('LPUSH', queue .. ':wake', unpack(tokens))
  end
end

-- Add messages (oldest first) behind the others of their priority.
local function append(queue, items)
  add(queue, items, false)
end

-- Put taken messages (newest first, as an in-flight list holds them) back in front of
-- the others of their priority.
local function put_back(queue, items)
  add(queue, items, true)
end
