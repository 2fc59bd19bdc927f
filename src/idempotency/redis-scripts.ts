/*
 * One Lua script per state change, so that each is atomic on the server.
 * KEYS[1] is the key's record, a hash with the fields state ('claimed' or
 * 'completed'), fp, owner, and status, headers (JSON) and body
 * (completed). The owner value is the fencing token every write compares.
 */

/**
 * ARGV: fingerprint, owner, leaseMs → one string (claim-reply.ts reads it):
 * 'A' (acquired), 'M' (mismatch), 'P' .. pttl (in progress),
 * 'C' .. status .. '\n' .. headers .. '\n' .. body (completed), or
 * 'U' .. state for a record whose state is neither 'claimed' nor
 * 'completed' (written by hand, or by something else): the store cannot
 * read it, and taking it for a claim in flight would answer 409 to every
 * retry until it expired. One string rather than an array: the client
 * decodes one value instead of one per element, which is most of what
 * reading a replay costs it.
 */
export const CLAIM = `
local record = redis.call('HMGET', KEYS[1], 'state', 'fp', 'owner')
if not record[1] then
  redis.call('HSET', KEYS[1], 'state', 'claimed', 'fp', ARGV[1], 'owner', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 'A'
end
if record[1] ~= 'claimed' and record[1] ~= 'completed' then
  return 'U' .. record[1]
end
if record[2] ~= ARGV[1] then
  return 'M'
end
if record[1] == 'completed' then
  local stored = redis.call('HMGET', KEYS[1], 'status', 'headers', 'body')
  return 'C' .. (stored[1] or '') .. '\\n' .. (stored[2] or '') .. '\\n' .. (stored[3] or '')
end
if record[3] == ARGV[2] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 'A'
end
return 'P' .. redis.call('PTTL', KEYS[1])
`

/** ARGV: owner, leaseMs → 1 | 0 */
export const RENEW = `
local record = redis.call('HMGET', KEYS[1], 'state', 'owner')
if record[1] ~= 'claimed' or record[2] ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`

/**
 * ARGV: owner, retentionMs, status, headers JSON, body, fingerprint ('' for
 * none) → 1 | 0. A record that is gone is written with the fingerprint.
 * The completed record keeps its owner: a call whose reply was lost and
 * that the client sent again (ioredis does, after reconnecting) finds its
 * own completion and answers 1 again, changing nothing, where a 0 would
 * report a lost lease that never was.
 */
export const COMPLETE = `
local record = redis.call('HMGET', KEYS[1], 'state', 'owner')
if record[1] == 'completed' and record[2] == ARGV[1] then
  return 1
end
if not record[1] and ARGV[6] ~= '' then
  redis.call('HSET', KEYS[1], 'fp', ARGV[6])
elseif record[1] ~= 'claimed' or record[2] ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'completed', 'owner', ARGV[1], 'status', ARGV[3], 'headers', ARGV[4], 'body', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`

/** ARGV: owner → 1 | 0 */
export const RELEASE = `
local record = redis.call('HMGET', KEYS[1], 'state', 'owner')
if record[1] ~= 'claimed' or record[2] ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`
