package bruteforce

import "github.com/redis/go-redis/v9"

// The scripts keep each subject's state in a hash: n (failures in the current window), ws (the window's
// start), lvl (locks so far in this run of failures), until (the current or last lock's end) and, on an
// IP's hash, blk (the end of a spread block). Times are Unix milliseconds. A clock argument of 0 means
// Redis's own clock. Key expiry only collects garbage: every decision compares the stored times, so a
// test clock works without waiting.

// luaNow is the shared prologue: now from ARGV[1], or Redis's TIME.
const luaNow = `
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`

// checkScript: KEYS account, ip. Returns the milliseconds left on the account lock, the IP lock and the
// IP block (0 for none).
var checkScript = redis.NewScript(luaNow + `
local a = tonumber(redis.call('HGET', KEYS[1], 'until')) or 0
local i = redis.call('HMGET', KEYS[2], 'until', 'blk')
local iu = tonumber(i[1]) or 0
local ib = tonumber(i[2]) or 0
return {math.max(a - now, 0), math.max(iu - now, 0), math.max(ib - now, 0)}
`)

// failureScript: KEYS account, ip, spread set. ARGV now, the account limit (threshold, window, lock, max
// lock), the IP limit (the same), the spread (accounts, window, block) and the account's set member.
// Returns {account ms left, account level, account lock started (0/1), ip ms left, ip level, ip lock
// started (0/1), block ms left, distinct accounts when a block started (else 0)}.
var failureScript = redis.NewScript(luaNow + `
-- fail counts one failure against the hash at key and returns ms left, level, whether a lock started and
-- the milliseconds the hash must live.
local function fail(key, threshold, window, lock, maxlock)
  local s = redis.call('HMGET', key, 'n', 'ws', 'lvl', 'until')
  local n = tonumber(s[1]) or 0
  local ws = tonumber(s[2]) or 0
  local lvl = tonumber(s[3]) or 0
  local till = tonumber(s[4]) or 0
  if till > now then
    return {till - now, lvl, 0, till - now + window}
  end
  if lvl > 0 and now - till >= window then
    lvl = 0
    n = 0
    ws = now
  end
  if now - ws >= window then
    n = 0
    ws = now
  end
  n = n + 1
  local started = 0
  if lvl > 0 or n >= threshold then
    local d = lock * math.pow(2, math.min(lvl, 40))
    if d > maxlock then d = maxlock end
    lvl = lvl + 1
    till = now + d
    n = 0
    ws = now
    started = 1
  end
  redis.call('HSET', key, 'n', n, 'ws', ws, 'lvl', lvl, 'until', till)
  local ttl
  if lvl > 0 then ttl = till - now + window else ttl = ws + window - now end
  return {math.max(till - now, 0), lvl, started, math.max(ttl, 1)}
end

local a = fail(KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]))
redis.call('PEXPIRE', KEYS[1], a[4])
local i = fail(KEYS[2], tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]))

local accounts, swindow, block = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
local blk = tonumber(redis.call('HGET', KEYS[2], 'blk')) or 0
local distinct = 0
if blk <= now then
  redis.call('ZADD', KEYS[3], now, ARGV[13])
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - swindow)
  local c = redis.call('ZCARD', KEYS[3])
  if c >= accounts then
    blk = now + block
    distinct = c
    redis.call('DEL', KEYS[3])
    redis.call('HSET', KEYS[2], 'blk', blk)
  else
    redis.call('PEXPIRE', KEYS[3], swindow)
  end
end
redis.call('PEXPIRE', KEYS[2], math.max(i[4], blk - now, 1))
return {a[1], a[2], a[3], i[1], i[2], i[3], math.max(blk - now, 0), distinct}
`)

// successScript: KEYS account. ARGV now. Forgets the account's failures and escalation; a lock in force
// stays until it ends.
var successScript = redis.NewScript(luaNow + `
local till = tonumber(redis.call('HGET', KEYS[1], 'until')) or 0
if till > now then
  redis.call('HSET', KEYS[1], 'n', 0, 'lvl', 0)
else
  redis.call('DEL', KEYS[1])
end
return 0
`)
