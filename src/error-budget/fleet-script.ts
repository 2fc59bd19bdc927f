import { createHash } from 'node:crypto'

/**
 * One flush of one indicator by one instance, applied at most once however
 * often it reaches Redis. A reply can be lost after Redis ran the flush (the
 * connection cut in between); the instance then sends the same flush again,
 * or ioredis does after reconnecting, and only its sequence number tells the
 * two apart.
 *
 * KEYS[1] is the instance's mark: the sequence number of the last flush of
 * this indicator Redis applied for it. The instance sends a flush only once
 * Redis has answered the one before, so a sequence number at or below the
 * mark is one already applied. KEYS[2..n] are the minute and hour buckets.
 *
 * ARGV: sequence, the mark's lifetime in ms, then per bucket its total, bad
 * and lifetime in ms → 1 (applied) | 0 (applied before, nothing done).
 *
 * Nothing is written until every bucket is known to take its increments: a
 * script that fails halfway keeps what it wrote, and the flush sent again
 * would then count that part twice, or, with the mark written first, lose
 * the rest.
 */
export const FLUSH_LUA = `
local applied = redis.call('GET', KEYS[1])
if applied and (tonumber(applied) or 0) >= tonumber(ARGV[1]) then return 0 end
for i = 2, #KEYS do
  local counts = redis.call('HMGET', KEYS[i], 't', 'b')
  for j = 1, 2 do
    if counts[j] and not string.match(counts[j], '^%-?%d+$') then
      return redis.error_reply('ERR ' .. KEYS[i] .. ' holds a count that is not an integer')
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
for i = 2, #KEYS do
  local at = 3 * i - 3
  redis.call('HINCRBY', KEYS[i], 't', ARGV[at])
  redis.call('HINCRBY', KEYS[i], 'b', ARGV[at + 1])
  redis.call('PEXPIRE', KEYS[i], ARGV[at + 2])
end
return 1
`

export const FLUSH_SHA = createHash('sha1').update(FLUSH_LUA).digest('hex')
