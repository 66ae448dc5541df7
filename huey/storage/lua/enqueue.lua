-- Add the messages ARGV[1..] (oldest first) to the queue KEYS[1] (after priority.lua:
-- the list queue's enqueue is a plain LPUSH).
append(KEYS[1], ARGV)
