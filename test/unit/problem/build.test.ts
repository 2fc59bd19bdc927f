import { describe, expect, it } from 'vitest'
import {
  GENERIC_SERVER_ERROR_DETAIL,
  ProblemError,
  ProblemTypeRegistry,
  buildProblem,
  clientErrorResponse,
  headersOfError,
  isProblemError,
  problemFromError,
  serializeProblem,
  statusOfError,
} from '../../../src/problem/index.js'

const registry = new ProblemTypeRegistry('urn:test:')
registry.register('validation-failed', { title: 'Request validation failed', status: 400 })
registry.register('overloaded', { title: 'Overloaded', status: 503 })

describe('buildProblem', () => {
  it('takes the status from the registered type when none is given', () => {
    expect(buildProblem({ type: 'overloaded' }, registry, 'req-9').problem).toEqual({
      type: 'urn:test:overloaded', title: 'Overloaded', status: 503, instance: 'req-9',
    })
  })

  it('an unknown status inside the range gets a generic reason phrase', () => {
    expect(buildProblem({ status: 499 }, registry).problem.title).toBe('Client Error')
    expect(buildProblem({ status: 599 }, registry).problem.title).toBe('Server Error')
  })

  it('a non-string detail is not sent', () => {
    expect(buildProblem({ status: 400, detail: 42 as unknown as string }, registry).problem).not.toHaveProperty('detail')
  })

  it('undefined extension values are left out', () => {
    expect(buildProblem({ status: 400, hint: undefined }, registry).problem).not.toHaveProperty('hint')
  })
})

describe('problemFromError', () => {
  const options = { exposeInternalErrors: false, instance: 'i' }

  it('reads statusCode before status, as Fastify does', () => {
    expect(statusOfError({ statusCode: 404, status: 409 })).toBe(404)
    expect(statusOfError({ status: 409 })).toBe(409)
    expect(statusOfError(null)).toBe(500)
  })

  it('hides the message and code of a 5xx', () => {
    const problem = problemFromError(Object.assign(new Error('internal'), { code: 'ECONNREFUSED' }), registry, options).problem
    expect(problem).toEqual({ type: 'about:blank', title: 'Internal Server Error', status: 500, detail: GENERIC_SERVER_ERROR_DETAIL, instance: 'i' })
  })

  it('keeps only codes that look like error codes', () => {
    const problem = problemFromError(Object.assign(new Error('x'), { statusCode: 400, code: 'lower case <script>' }), registry, options).problem
    expect(problem).not.toHaveProperty('code')
  })

  it('a validation error without a context is attributed to the body', () => {
    const error = Object.assign(new Error('bad'), { statusCode: 400, validation: [{ instancePath: '/a', keyword: 'type', message: 'must be string' }] })
    expect(problemFromError(error, registry, options).problem.errors).toEqual([{ location: 'body', pointer: '/a', detail: 'must be string', keyword: 'type' }])
  })

  it('recognises a ProblemError from another copy of the library by its brand', () => {
    const foreign = Object.assign(new Error('x'), { problem: { status: 409 } })
    Object.defineProperty(foreign, Symbol.for('fastify-resilience.problem-error'), { value: true })
    expect(isProblemError(foreign)).toBe(true)
    expect(isProblemError(new Error('x'))).toBe(false)
    expect(isProblemError(new ProblemError({ status: 400 }))).toBe(true)
  })
})

describe('validation pointers', () => {
  const validation = (entry: Record<string, unknown>): unknown =>
    problemFromError(Object.assign(new Error('v'), { statusCode: 400, validation: [entry], validationContext: 'body' }), registry, { exposeInternalErrors: false }).problem.errors

  it.each([
    ['required', { instancePath: '/order', keyword: 'required', params: { missingProperty: 'a/b~c' } }, '/order/a~1b~0c'],
    ['additionalProperties', { instancePath: '', keyword: 'additionalProperties', params: { additionalProperty: 'extra' } }, '/extra'],
    ['dependentRequired', { instancePath: '', keyword: 'dependentRequired', params: { missingProperty: 'zip' } }, '/zip'],
    ['a foreign validator without instancePath', { message: 'is wrong' }, ''],
    ['an instancePath that is not a pointer', { instancePath: 'a.b', keyword: 'type' }, ''],
  ])('%s', (_name, entry, pointer) => {
    expect(validation(entry)).toEqual([expect.objectContaining({ pointer })])
  })

  it.each([
    ['required', { instancePath: '/order', keyword: 'required', params: { requiredProperties: ['sku', 'a/b~c'] } }, ['/order/sku', '/order/a~1b~0c']],
    ['additionalProperties', { instancePath: '', keyword: 'additionalProperties', params: { additionalProperties: ['extra', ''] } }, ['/extra', '/']],
    ['unevaluatedProperties', { instancePath: '/a~1b', keyword: 'unevaluatedProperties', params: { unevaluatedProperties: ['x'] } }, ['/a~1b/x']],
    ['propertyNames', { instancePath: '', keyword: 'propertyNames', params: { propertyNames: ['Bad', 'Worse'] } }, ['/Bad', '/Worse']],
  ])('TypeBox\'s %s, which lists the properties, is one entry per property', (keyword, entry, pointers) => {
    expect(validation({ ...entry, message: 'm' })).toEqual(pointers.map((pointer) => ({ location: 'body', pointer, detail: 'm', keyword })))
  })

  it('a list that holds other values than names gives the names', () => {
    expect(validation({ instancePath: '', keyword: 'required', params: { requiredProperties: [1, 'sku', null] } })).toEqual([expect.objectContaining({ pointer: '/sku' })])
  })

  // Never fewer entries than errors: an error whose list names nobody stays one entry.
  it.each([
    ['an empty list', { requiredProperties: [] }],
    ['a list of no names', { requiredProperties: [1, null] }],
  ])('a required error with %s is one entry at its own place', (_name, params) => {
    expect(validation({ instancePath: '/order', keyword: 'required', params })).toEqual([{ location: 'body', pointer: '/order', detail: 'is invalid', keyword: 'required' }])
  })
})

describe('validation pointers of fastify-type-provider-zod', () => {
  // The provider marks its errors with this symbol and joins zod's path with "/", unescaped.
  const ZOD_ERROR = Symbol.for('ZodFastifySchemaValidationError')
  const zodError = (instancePath: string, extra: Record<string, unknown> = {}): Record<string | symbol, unknown> =>
    ({ [ZOD_ERROR]: true, keyword: 'invalid_type', instancePath, message: 'm', params: {}, ...extra })
  const pointers = (entry: Record<string | symbol, unknown>, body?: unknown): string[] => {
    const error = Object.assign(new Error('v'), { statusCode: 400, validation: [entry], validationContext: 'body' })
    const options = body === undefined ? { exposeInternalErrors: false } : { exposeInternalErrors: false, validatedPart: (location: string) => location === 'body' ? body : undefined }
    const errors = problemFromError(error, registry, options).problem.errors as Array<{ pointer: string }>
    return errors.map((entry) => entry.pointer)
  }

  it.each([
    ['a member whose name holds "/"', '/a/b', { 'a/b': 5 }, '/a~1b'],
    ['a member whose name holds "~"', '/c~d', { 'c~d': 'z' }, '/c~0d'],
    ['an item of an array member whose name holds "~"', '/c~d/1', { 'c~d': [1, 'two'] }, '/c~0d/1'],
    ['a member "a/b" beside a member "a" that does not lead there', '/a/b', { a: { c: 1 }, 'a/b': 5 }, '/a~1b'],
    ['a missing member whose name holds "/"', '/a/b', {}, '/a~1b'],
    ['a missing member of a member', '/x/y~z', { x: {} }, '/x/y~0z'],
  ])('%s', (_name, path, body, pointer) => {
    expect(pointers(zodError(path), body)).toEqual([pointer])
  })

  it('the value tells a member "a/b" from a member "b" of a member "a"', () => {
    expect(pointers(zodError('/a/b'), { 'a/b': 5 })).toEqual(['/a~1b'])
    expect(pointers(zodError('/a/b'), { a: { b: 5 } })).toEqual(['/a/b'])
  })

  it('"/" is a member named "" when the value has one, else the value itself', () => {
    expect(pointers(zodError('/'), { '': 5 })).toEqual(['/'])
    expect(pointers(zodError('//'), { '': { '': 5 } })).toEqual(['//'])
    expect(pointers(zodError('/'), 'text')).toEqual([''])
  })

  it('unrecognized keys are one entry per key, each pointing at it', () => {
    const entry = zodError('/order', { keyword: 'unrecognized_keys', params: { keys: ['extra', 'x/y', ''] } })
    expect(pointers(entry, { order: { extra: 1, 'x/y': 2, '': 3 } })).toEqual(['/order/extra', '/order/x~1y', '/order/'])
  })

  it('unrecognized keys of the value itself point at the keys, even beside a member named ""', () => {
    const entry = zodError('/', { keyword: 'unrecognized_keys', params: { keys: ['', 'extra'] } })
    expect(pointers(entry, { '': 1, extra: 2 })).toEqual(['/', '/extra'])
  })

  it('without the validated value, the path is read as written, its members escaped', () => {
    expect(pointers(zodError('/c~d/e'))).toEqual(['/c~0d/e'])
    expect(pointers(zodError('/'))).toEqual([''])
  })

  // Unknown shapes: a sane entry, never a throw.
  it('a path that is not one is the value itself', () => {
    expect(pointers(zodError('a/b'), { 'a/b': 1 })).toEqual([''])
    expect(pointers({ ...zodError(''), instancePath: 7 }, {})).toEqual([''])
  })

  it('is resolved only for zod: an Ajv instancePath is a JSON pointer already', () => {
    const body = { 'a/b': 5, 'c~0d': 1 }
    expect(pointers({ instancePath: '/a/b', keyword: 'type' }, body)).toEqual(['/a/b'])
    expect(pointers(zodError('/a/b'), body)).toEqual(['/a~1b'])
  })

  it('a path whose names would take too long to look up is read as written', () => {
    // Each name tried is one "a/" longer than the last: the lookups grow with the square of the path.
    const short = 'a/'.repeat(10) + 'a'
    const long = 'a/'.repeat(40_000) + 'a'
    expect(pointers(zodError('/' + short), { [short]: 1 })).toEqual(['/' + short.replaceAll('/', '~1')])
    expect(pointers(zodError('/' + long), { [long]: 1 })).toEqual(['/' + long])
  })
})

describe('serializeProblem', () => {
  it('falls back to the core members when an extension throws in toJSON', () => {
    const { body, complete } = serializeProblem({ type: 'about:blank', title: 'Bad Request', status: 400, detail: 'd', x: { toJSON () { throw new Error('no') } } })
    expect(complete).toBe(false)
    expect(JSON.parse(body)).toEqual({ type: 'about:blank', title: 'Bad Request', status: 400, detail: 'd' })
  })
})

describe('headersOfError', () => {
  it('drops content headers and values with line breaks', () => {
    expect(headersOfError({ headers: { 'Content-Type': 'text/html', 'retry-after': 3, 'x-a': 'ok', 'x-b': 'a\nb', 'x-c': {} } }))
      .toEqual({ 'retry-after': '3', 'x-a': 'ok' })
    expect(headersOfError({ headers: 'nope' })).toEqual({})
  })

  it('drops framing, hop-by-hop and cookie headers, whatever their case', () => {
    const upstream = {
      'Transfer-Encoding': 'chunked',
      connection: 'keep-alive',
      'keep-alive': 'timeout=5',
      'content-encoding': 'gzip',
      'content-range': 'bytes 0-1/2',
      'proxy-connection': 'keep-alive',
      te: 'trailers',
      trailer: 'x-t',
      upgrade: 'h2c',
      'Set-Cookie': 'session=secret',
      'www-authenticate': 'Bearer',
      'retry-after': '2',
    }
    expect(headersOfError({ headers: upstream })).toEqual({ 'www-authenticate': 'Bearer', 'retry-after': '2' })
  })
})

describe('clientErrorResponse', () => {
  it.each([['ERR_HTTP_REQUEST_TIMEOUT', 408], ['HPE_HEADER_OVERFLOW', 431], ['HPE_INVALID_METHOD', 400], [undefined, 400]])('%s → %i', (code, status) => {
    const response = clientErrorResponse(code)
    const [head, body] = response.split('\r\n\r\n')
    expect(head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `))
    expect(head).toContain(`Content-Length: ${Buffer.byteLength(body ?? '')}`)
    expect(JSON.parse(body ?? '')).toMatchObject({ type: 'about:blank', status })
  })
})
