#!lua
-- wasmplug: one atomic, conditional commit into one bucket (see docs/redis.md).
--
-- KEYS[1]      the bucket's version counter (a string holding the last version assigned)
-- KEYS[2]      the bucket's key index (a sorted set, every score 0, members = keys)
-- KEYS[2 + i]  the entry of write i (a hash: `v` = value, `ver` = version)
-- ARGV, four per write i:
--   ARGV[4i-3]  precondition: "" (none), "-" (the key must be absent), or the version it must have
--   ARGV[4i-2]  the key itself (its index member)
--   ARGV[4i-1]  "s" to set, "d" to delete
--   ARGV[4i]    the value ("" for a delete)
--
-- Returns {1, version of write 1, ...} ("0" for a delete) when everything applied, or
-- {0, i} when the precondition of write i (0-based) failed and nothing was written.
--
-- Every precondition is checked, against the state the earlier writes of this commit leave,
-- before the first write. The shebang makes Redis refuse the script up front when it is out
-- of memory, instead of failing half way.

local n = #KEYS - 2
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
local seen = {}
local out = {1}
for i = 1, n do
  local entry = KEYS[i + 2]
  local pre = ARGV[4 * i - 3]
  local current = seen[entry]
  if current == nil then
    current = redis.call('HGET', entry, 'ver')
  end
  if pre == '-' then
    if current then
      return {0, i - 1}
    end
  elseif pre ~= '' and current ~= pre then
    return {0, i - 1}
  end
  if ARGV[4 * i - 1] == 's' then
    seq = seq + 1
    current = string.format('%.0f', seq)
    out[i + 1] = current
  else
    current = false
    out[i + 1] = '0'
  end
  seen[entry] = current
end
for i = 1, n do
  local entry = KEYS[i + 2]
  if ARGV[4 * i - 1] == 's' then
    redis.call('HSET', entry, 'v', ARGV[4 * i], 'ver', out[i + 1])
    redis.call('ZADD', KEYS[2], 0, ARGV[4 * i - 2])
  else
    redis.call('DEL', entry)
    redis.call('ZREM', KEYS[2], ARGV[4 * i - 2])
  end
end
if n > 0 then
  redis.call('SET', KEYS[1], string.format('%.0f', seq))
end
return out
