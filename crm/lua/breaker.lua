-- Circuit breaker transitions, atomic across every process sharing this Redis.
--
-- Keys:
--   KEYS[1]  <prefix>:state     hash: state (closed|open|half_open), since (s), successes,
--                               probes (calls let through while half-open)
--   KEYS[2]  <prefix>:failures  sorted set of failure times (s), trimmed to the window;
--                               <prefix>:failures:seq makes each member unique
--
-- ARGV: op (allow|success|failure|reset), now (s), threshold, window (s), open timeout (s),
--       successes needed to close, probes allowed while half-open
--
-- Returns {state, since, wait_s}: wait_s > 0 only when `allow` refuses the call.
local state_key, failures_key = KEYS[1], KEYS[2]
local op = ARGV[1]
local now = tonumber(ARGV[2])
local threshold = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local open_timeout = tonumber(ARGV[5])
local close_after = tonumber(ARGV[6])
local max_probes = tonumber(ARGV[7])

local state = redis.call("HGET", state_key, "state") or "closed"
local since = tonumber(redis.call("HGET", state_key, "since") or now)

local function move(new_state)
  state, since = new_state, now
  redis.call("HSET", state_key, "state", state, "since", tostring(now), "successes", 0, "probes", 0)
  if new_state == "closed" then redis.call("DEL", failures_key) end
end

if op == "reset" then
  move("closed")
  return {state, tostring(since), "0"}
end

if state == "open" and now >= since + open_timeout then
  move("half_open")
end

if op == "allow" then
  if state == "open" then
    return {state, tostring(since), tostring(since + open_timeout - now)}
  end
  if state == "half_open" then
    local probes = tonumber(redis.call("HGET", state_key, "probes") or 0)
    if probes >= max_probes and now >= since + open_timeout then
      -- Probes that never reported back (their worker died): start a fresh half-open round.
      move("half_open")
      probes = 0
    end
    if probes >= max_probes then
      return {state, tostring(since), "1"}
    end
    redis.call("HINCRBY", state_key, "probes", 1)
  end
elseif op == "success" then
  if state == "half_open" then
    local successes = redis.call("HINCRBY", state_key, "successes", 1)
    redis.call("HINCRBY", state_key, "probes", -1)
    if successes >= close_after then move("closed") end
  end
elseif op == "failure" then
  if state == "half_open" then
    move("open")
  elseif state == "closed" then
    local seq = redis.call("INCR", failures_key .. ":seq")
    redis.call("EXPIRE", failures_key .. ":seq", math.ceil(window) + 1)
    redis.call("ZADD", failures_key, now, tostring(now) .. ":" .. seq)
    redis.call("ZREMRANGEBYSCORE", failures_key, "-inf", now - window)
    redis.call("EXPIRE", failures_key, math.ceil(window) + 1)
    if redis.call("ZCARD", failures_key) >= threshold then move("open") end
  end
end
return {state, tostring(since), "0"}
