-- Take one slot of HubSpot's request budget, shared by every process on this Redis.
--
-- Keys:
--   KEYS[1]  <prefix>:window       sorted set of call times (s) in the rolling window
--   KEYS[2]  <prefix>:daily:<day>  calls made today (UTC day)
--   KEYS[3]  <prefix>:pause        time (s) before which nobody may call (429, Remaining low)
--   KEYS[4]  <prefix>:known        exists while this Redis has seen every call of the window;
--                                  missing after Redis restarted empty: the count is lost
--
-- ARGV: now (s), burst limit, window (s), daily limit, seconds until the daily reset, unique id
--
-- Returns {granted, wait_s}: granted 1 = go; 0 = wait wait_s and ask again;
-- -1 = the daily quota is spent, wait_s is the time to the reset.
local window_key, daily_key, pause_key = KEYS[1], KEYS[2], KEYS[3]
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local daily_limit = tonumber(ARGV[4])
local to_reset = tonumber(ARGV[5])

if redis.call("EXISTS", KEYS[4]) == 0 then
  -- Calls made just before a restart are forgotten: assume the window is full, once.
  redis.call("SET", KEYS[4], "1")
  redis.call("SET", pause_key, tostring(now + window), "EX", math.ceil(window) + 1)
end
local pause_until = tonumber(redis.call("GET", pause_key) or 0)
if pause_until > now then
  return {0, tostring(pause_until - now)}
end
if tonumber(redis.call("GET", daily_key) or 0) >= daily_limit then
  return {-1, tostring(to_reset)}
end
redis.call("ZREMRANGEBYSCORE", window_key, "-inf", now - window)
if redis.call("ZCARD", window_key) < limit then
  redis.call("ZADD", window_key, now, ARGV[6])
  redis.call("EXPIRE", window_key, math.ceil(window) + 1)
  redis.call("INCR", daily_key)
  redis.call("EXPIRE", daily_key, math.ceil(to_reset) + 3600)
  return {1, "0"}
end
local oldest = redis.call("ZRANGE", window_key, 0, 0, "WITHSCORES")
return {0, tostring(tonumber(oldest[2]) + window - now)}
