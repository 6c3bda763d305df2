//! The Lua scripts that make each multi-key operation atomic on the server.
//!
//! Scripts run whole, with no other command between their steps, so a scope's keys are
//! always in step however many processes write. They are sent by hash (`EVALSHA`) and
//! loaded on a `NOSCRIPT` reply. Variable keys are built in Lua from the prefix passed
//! as an argument; they share the scope's hash tag, so they are in the declared keys'
//! slot.

use std::sync::LazyLock;

use redis::Script;

/// Redis's clock in milliseconds, and the bound below which index entries are surely
/// stale: a second of slack keeps the index from ever losing a live name to the
/// difference between `TIME` and the server's expiry clock.
const NOW: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local stale = '(' .. string.format('%.0f', now - 1000)
";

/// `KEYS`: variable, index. `ARGV`: name, JSON value, TTL in ms (-1: none, 0: already
/// expired). Prunes index entries that expired over a second ago.
static SET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', stale)
local ttl = tonumber(ARGV[3])
if ttl == 0 then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
elseif ttl < 0 then
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('ZADD', KEYS[2], 'inf', ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  redis.call('ZADD', KEYS[2], string.format('%.0f', now + ttl), ARGV[1])
end
return 1
"
    ))
});

/// `KEYS`: variable, index. `ARGV`: name. Returns how many live variables it deleted.
static REMOVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return n
",
    )
});

/// `KEYS`: index. `ARGV`: variable key prefix. Returns the names whose keys exist,
/// dropping the others from the index.
static LIVE_KEYS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', stale)
local names = redis.call('ZRANGE', KEYS[1], 0, -1)
local live = {{}}
for _, n in ipairs(names) do
  if redis.call('EXISTS', ARGV[1] .. n) == 1 then
    live[#live + 1] = n
  else
    redis.call('ZREM', KEYS[1], n)
  end
end
return live
"
    ))
});

/// `KEYS`: window, window tokens. `ARGV`: message JSON, its estimated tokens, max
/// messages, max tokens (-1: unbounded). Appends, then drops the oldest while more than
/// one message is left and the window is over either bound. Checks the stored token
/// list before writing anything, so a corrupt window is reported, never made worse.
/// Returns how many messages it dropped.
static PUSH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local toks = redis.call('LRANGE', KEYS[2], 0, -1)
if redis.call('LLEN', KEYS[1]) ~= #toks then
  return redis.error_reply('BRAINCORRUPT window ' .. KEYS[1] .. ' and its token list differ in length')
end
local sum = 0
for i = 1, #toks do
  local t = tonumber(toks[i])
  if t == nil then
    return redis.error_reply('BRAINCORRUPT token list ' .. KEYS[2] .. ' holds a non-number')
  end
  toks[i] = t
  sum = sum + t
end
local new = tonumber(ARGV[2])
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('RPUSH', KEYS[2], ARGV[2])
toks[#toks + 1] = new
sum = sum + new
local len = #toks
local max_messages = tonumber(ARGV[3])
local max_tokens = tonumber(ARGV[4])
local drop = 0
while len - drop > 1 and (len - drop > max_messages or (max_tokens >= 0 and sum > max_tokens)) do
  drop = drop + 1
  sum = sum - toks[drop]
end
if drop > 0 then
  redis.call('LTRIM', KEYS[1], drop, -1)
  redis.call('LTRIM', KEYS[2], drop, -1)
end
return drop
",
    )
});

/// `KEYS`: index, window, window tokens. `ARGV`: variable key prefix. Deletes every key
/// of the scope.
static CLEAR: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local names = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, n in ipairs(names) do
  redis.call('DEL', ARGV[1] .. n)
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return #names
",
    )
});

pub(crate) fn set() -> &'static Script {
    &SET
}

pub(crate) fn remove() -> &'static Script {
    &REMOVE
}

pub(crate) fn live_keys() -> &'static Script {
    &LIVE_KEYS
}

pub(crate) fn push() -> &'static Script {
    &PUSH
}

pub(crate) fn clear() -> &'static Script {
    &CLEAR
}
