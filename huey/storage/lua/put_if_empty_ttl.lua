-- put_if_empty with a ttl: set field ARGV[1] of the hash KEYS[1] to ARGV[2] only if it is
-- unset, then expire that field alone after ARGV[3] milliseconds (HPEXPIRE: Redis 7.4+).
-- One script, so a value is never left without its expiry. Returns 1 if it was set.
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('HPEXPIRE', KEYS[1], ARGV[3], 'FIELDS', 1, ARGV[1])
return 1
