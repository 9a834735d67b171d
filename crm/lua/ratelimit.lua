-- HubSpot's request budget, shared by every process on this Redis: take a slot of it,
-- pause every caller, or read today's count.
--
-- Keys:
--   KEYS[1]  <prefix>:window  sorted set of call times (s) in the rolling window
--   KEYS[2]  <prefix>:daily   hash: day (UTC days since the epoch), calls (made that day)
--   KEYS[3]  <prefix>:pause   time (s) before which nobody may call (429, Remaining low)
--   KEYS[4]  <prefix>:known   exists while this Redis has seen every call of the window;
--                             missing after Redis restarted empty: the count is lost
--
-- ARGV: op, now (s, or "": see now.lua), then by op:
--   acquire  burst limit, window (s), daily limit, unique id
--            -> {granted, wait_s}: granted 1 = go; 0 = wait wait_s and ask again;
--               -1 = the daily quota is spent, wait_s is the time to the reset (00:00 UTC)
--   pause    seconds -> the pause's end (s): now + seconds, or a later end already set
--   used     -> calls made today (UTC)
--   align    calls HubSpot counts in its window, window (s), unique id
--            -> calls added to the window so it holds at least as many as HubSpot's
local window_key, daily_key, pause_key, known_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local op = ARGV[1]
local now = now_s()
local day = math.floor(now / 86400)
local to_reset = (day + 1) * 86400 - now

local function used_today()
  if tonumber(redis.call("HGET", daily_key, "day")) ~= day then return 0 end
  return tonumber(redis.call("HGET", daily_key, "calls"))
end

-- Read and write in one step, so a shorter pause asked at the same time never wins.
local function pause_until(until_s)
  local current = tonumber(redis.call("GET", pause_key) or 0)
  if until_s <= current or until_s <= now then return math.max(current, now) end
  local expire_ms = math.ceil((until_s - now) * 1000) + 1000
  redis.call("SET", pause_key, string.format("%.6f", until_s), "PX", expire_ms)
  return until_s
end

if op == "used" then
  return used_today()
end
if op == "pause" then
  return string.format("%.6f", pause_until(now + tonumber(ARGV[3])))
end
if op == "align" then
  -- HubSpot's count is the truth (another app of the portal, or ours lost when Redis
  -- restarted empty): calls it counts that ours misses take slots until they age out.
  redis.call("ZREMRANGEBYSCORE", window_key, "-inf", string.format("%.6f", now - ARGV[4]))
  local missing = tonumber(ARGV[3]) - redis.call("ZCARD", window_key)
  for n = 1, missing do
    redis.call("ZADD", window_key, now, ARGV[5] .. ":" .. n)
  end
  redis.call("EXPIRE", window_key, math.ceil(tonumber(ARGV[4])) + 1)
  return math.max(missing, 0)
end

local limit = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local daily_limit = tonumber(ARGV[5])
if redis.call("EXISTS", known_key) == 0 then
  -- Calls made just before a restart are forgotten: assume the window is full, once.
  redis.call("SET", known_key, "1")
  pause_until(now + window)
end
local paused_until = tonumber(redis.call("GET", pause_key) or 0)
if paused_until > now then
  return {0, string.format("%.6f", paused_until - now)}
end
if used_today() >= daily_limit then
  return {-1, string.format("%.6f", to_reset)}
end
redis.call("ZREMRANGEBYSCORE", window_key, "-inf", string.format("%.6f", now - window))
if redis.call("ZCARD", window_key) < limit then
  redis.call("ZADD", window_key, now, ARGV[6])
  redis.call("EXPIRE", window_key, math.ceil(window) + 1)
  if tonumber(redis.call("HGET", daily_key, "day")) ~= day then
    redis.call("HSET", daily_key, "day", day, "calls", 0)
  end
  redis.call("HINCRBY", daily_key, "calls", 1)
  redis.call("EXPIRE", daily_key, math.ceil(to_reset) + 3600)
  return {1, "0"}
end
local oldest = redis.call("ZRANGE", window_key, 0, 0, "WITHSCORES")
return {0, string.format("%.6f", tonumber(oldest[2]) + window - now)}
