-- Add the message ARGV[2] to the queue KEYS[1] behind the others of priority ARGV[1]
-- (huey 3's enqueue(data, priority)), whatever priority the message itself carries.
-- Runs after priority.lua.
add(KEYS[1], {ARGV[2]}, false, tonumber(ARGV[1]))
