-- Batch slots: how many HubSpot batches may run at once, across every process.
--
-- Keys:
--   KEYS[1]  <prefix>:batches  sorted set: member a holder's token, score the time (s) its
--                              hold ends; a holder that died drops out once that passes
--
-- ARGV: op (take|renew|free), now (s, or "": see now.lua), token, hold (s), slots
--
-- Returns 1 when the token holds a slot afterwards, 0 when not: every slot is taken
-- (take), the hold had lapsed (renew), or it was given back (free).
local key, op, token = KEYS[1], ARGV[1], ARGV[3]
local now = now_s()
local hold = tonumber(ARGV[4])
local slots = tonumber(ARGV[5])

redis.call("ZREMRANGEBYSCORE", key, "-inf", string.format("%.6f", now))
if op == "free" then
  redis.call("ZREM", key, token)
  return 0
end
if op == "take" and redis.call("ZCARD", key) >= slots then return 0 end
if op == "renew" and not redis.call("ZSCORE", key, token) then return 0 end
redis.call("ZADD", key, now + hold, token)
local last = redis.call("ZRANGE", key, -1, -1, "WITHSCORES")
redis.call("PEXPIRE", key, math.ceil((tonumber(last[2]) - now) * 1000) + 1000)
return 1
