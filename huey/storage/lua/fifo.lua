-- How the list queue (RedisStorage) takes messages in: the scripts that move messages
-- into the queue start with this file or with priority.lua. The head is the right end.

-- Add messages (oldest first) at the tail.
local function append(queue, items)
  for first = 1, #items, 1000 do
    redis.call('LPUSH', queue, unpack(items, first, math.min(first + 999, #items)))
  end
end

-- Put taken messages (newest first, as an in-flight list holds them) back at the head.
local function put_back(queue, items)
  for i = 1, #items do
    redis.call('RPUSH', queue, items[i])
  end
end
