"""The Lua scripts of the Redis backend, each one atomic: Redis runs a script without
interleaving any other command, so every check a script makes holds for its writes.

Registered with redis-py's `register_script` by the classes that run them.
"""

# Members of one change, shared by APPLY and STEP: ARGV[first ...] holds n_added then
# n_removed (member, its SDK include-set key) pairs. Adds members to the segment's sorted
# set and its reference to each member's include set, removes likewise, and keeps the
# count and updated_at. Returns how many members really were added and removed.
_MEMBERS = """
local function apply_members(seg, members, ref, first, n_added, n_removed, now)
  local added, removed = 0, 0
  local i = first
  local batch = {}
  for n = 1, n_added do
    -- members go in batches: one ZADD per 1000 is much faster than one per member
    batch[#batch + 1] = 0
    batch[#batch + 1] = ARGV[i]
    if #batch == 2000 or n == n_added then
      added = added + redis.call('ZADD', members, unpack(batch))
      batch = {}
    end
    -- always, not only when new: a replay repairs what the SDK reads
    redis.call('SADD', ARGV[i + 1], ref)
    i = i + 2
  end
  for n = 1, n_removed do
    batch[#batch + 1] = ARGV[i]
    if #batch == 1000 or n == n_removed then
      removed = removed + redis.call('ZREM', members, unpack(batch))
      batch = {}
    end
    redis.call('SREM', ARGV[i + 1], ref)
    i = i + 2
  end
  if added > 0 or removed > 0 then
    redis.call('HSET', seg, 'member_count', redis.call('ZCARD', members),
      'updated_at', now)
  end
  return added, removed
end
"""

# One sync request: every refusal first, then every write. ARGV: prefix, client-side id,
# now (ms), may_create ("1"/"0"), integration key, context kind, lease, lease ms, number
# of changes, then per change: segment key, cohort id, name, url, has_url, definition
# head, #added, #removed, and (member, its SDK include-set key) pairs.
#
# A request waits ('busy') while another request holds a lease on one of its segments
# (P:lease:E:K, see steps.py). With a lease (a large request's first script, its
# members left to STEP), it takes the lease on every segment of the request. With a
# definition head (--sdk-definitions), it writes the segment's definition where SDKs in
# daemon mode read it: the P:segments hash, and P:$inited.
APPLY = _MEMBERS + """
local prefix, env, now, may_create = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local integration, kind, lease, lease_ms = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local count = tonumber(ARGV[9])
local segments = prefix .. ':segments:' .. env
local changes, at = {}, 10
for i = 1, count do
  local c = {key = ARGV[at], cohort_id = ARGV[at + 1], name = ARGV[at + 2],
             url = ARGV[at + 3], has_url = ARGV[at + 4], definition = ARGV[at + 5],
             added = tonumber(ARGV[at + 6]), removed = tonumber(ARGV[at + 7]),
             first = at + 8}
  at = c.first + 2 * (c.added + c.removed)
  c.seg = prefix .. ':segment:' .. env .. ':' .. c.key
  c.lease = prefix .. ':lease:' .. env .. ':' .. c.key
  changes[i] = c
end
-- another request's lease first: this one is decided once that one is done
for _, c in ipairs(changes) do
  local holder = redis.call('GET', c.lease)
  if holder and holder ~= lease then return {'busy', c.key} end
end
-- every refusal is decided before the first write
local missing = {}
for _, c in ipairs(changes) do
  local row = redis.call('HMGET', c.seg, 'context_kind', 'integration_key')
  if row[1] then
    if row[1] ~= kind then return {'context_kind_conflict', c.key, row[1]} end
    if row[2] ~= integration then return {'integration_conflict', c.key, row[2]} end
  else
    missing[#missing + 1] = c.key
  end
end
if #missing > 0 and may_create ~= '1' then
  table.insert(missing, 1, 'creation_refused')
  return missing
end
local results = {'ok'}
for _, c in ipairs(changes) do
  if lease ~= '' then redis.call('SET', c.lease, lease, 'PX', lease_ms) end
  local members = prefix .. ':members:' .. env .. ':' .. c.key
  local generation = redis.call('HGET', c.seg, 'generation')
  local created = 0
  if not generation then
    generation = redis.call('INCR', prefix .. ':segment_generation')
    redis.call('HSET', c.seg, 'name', c.name, 'description', '', 'tags', '[]',
      'context_kind', kind, 'integration_key', integration, 'cohort_id', c.cohort_id,
      'member_count', 0, 'created_at', now, 'updated_at', now, 'generation', generation)
    if c.has_url == '1' then redis.call('HSET', c.seg, 'cohort_url', c.url) end
    redis.call('ZADD', segments, 0, c.key)
    created = 1
  end
  if c.definition ~= '' then
    redis.call('HSET', prefix .. ':segments', c.key,
      c.definition .. generation .. ', "version": ' .. generation .. '}')
    redis.call('SET', prefix .. ':$inited', '')
  end
  local added, removed = apply_members(c.seg, members, c.key .. '.g' .. generation,
    c.first, c.added, c.removed, now)
  results[#results + 1] = {c.key, created, added, removed}
end
redis.call('SET', prefix .. ':big_segments_synchronized_on', now)
return results
"""

# One step of a large request (steps.py): some of one change's members, while the
# request holds the segment's lease. ARGV: prefix, client-side id, now (ms), lease,
# lease ms, segment key, #added, #removed, then (member, include-set key) pairs.
# Returns {'ok', added, removed}, or {'lost'} (and writes nothing) when the lease is no
# longer this request's: it expired, or another request holds it now.
STEP = _MEMBERS + """
local prefix, env, now, lease, lease_ms = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local key = ARGV[6]
local lease_key = prefix .. ':lease:' .. env .. ':' .. key
if redis.call('GET', lease_key) ~= lease then return {'lost'} end
redis.call('PEXPIRE', lease_key, lease_ms)
local seg = prefix .. ':segment:' .. env .. ':' .. key
local members = prefix .. ':members:' .. env .. ':' .. key
local ref = key .. '.g' .. redis.call('HGET', seg, 'generation')
local added, removed = apply_members(seg, members, ref, 9, tonumber(ARGV[7]),
  tonumber(ARGV[8]), now)
redis.call('SET', prefix .. ':big_segments_synchronized_on', now)
return {'ok', added, removed}
"""

# The end of a large request: each lease of KEYS that is still ARGV[1]'s is released.
RELEASE = """
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    released = released + 1
  end
end
return released
"""

UPDATE_DETAILS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if #ARGV > 1 then redis.call('HSET', KEYS[1], 'updated_at', ARGV[1]) end
return redis.call('HGETALL', KEYS[1])
"""


# --- the registry and the rate limit (service/redis/registry.py, ratelimit.py)

# Both checks and both writes in one script: two processes starting at once on an empty
# Redis must not both create a default environment.
BOOTSTRAP = """
if redis.call('SCARD', KEYS[1]) > 0 or redis.call('SCARD', KEYS[2]) > 0 then
  return 0
end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[3], 'project_key', ARGV[2], 'environment_key', ARGV[3],
  'created_at', ARGV[4])
redis.call('SET', KEYS[4], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[5])
redis.call('HSET', KEYS[5], 'hash', ARGV[6], 'role', ARGV[7], 'actions', ARGV[8],
  'name', ARGV[9], 'created_at', ARGV[4])
redis.call('INCR', KEYS[6])
return 1
"""

ADD_ENVIRONMENT = """
if redis.call('EXISTS', KEYS[2]) == 1 then return {'taken_id'} end
local other = redis.call('GET', KEYS[3])
if other then return {'taken_keys', other} end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'project_key', ARGV[2], 'environment_key', ARGV[3],
  'created_at', ARGV[4])
redis.call('SET', KEYS[3], ARGV[1])
redis.call('INCR', KEYS[4])
return {'ok'}
"""

REVOKE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSETNX', KEYS[1], 'revoked_at', ARGV[1])
redis.call('INCR', KEYS[2])  -- the registry generation: caches of every process clear
return 1
"""

# A fixed window per token on Redis's clock, so that processes on hosts whose clocks
# differ still share one window. Hands out a lease of requests a process may then answer
# from memory: a sixteenth of what is left (at most 64) while 32 or more are left, then
# one at a time, so the limit is exact where it matters. Returns the window's start (ms),
# the requests granted (0: refused) and Redis's time (ms).
RATE_LEASE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local window, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local start = tonumber(redis.call('HGET', KEYS[1], 'start'))
if not start or now_ms >= start + window then
  start = now_ms
  redis.call('HSET', KEYS[1], 'start', start, 'count', 0)
  redis.call('PEXPIRE', KEYS[1], math.ceil(window))
end
local left = limit - tonumber(redis.call('HGET', KEYS[1], 'count'))
local grant = 0
if left >= 32 then grant = math.min(64, math.floor(left / 16))
elseif left > 0 then grant = 1 end
if grant > 0 then redis.call('HINCRBY', KEYS[1], 'count', grant) end
return {start, grant, now_ms}
"""
