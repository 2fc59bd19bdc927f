import Fastify from 'fastify'
import type { FastifyInstance, FastifySchemaCompiler, FastifyServerOptions } from 'fastify'
import fc from 'fast-check'
import { Type } from 'typebox'
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import { validatorCompiler as zodValidatorCompiler } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { afterEach, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import { APP_PROPERTY_RUNS } from '../helpers/arbitraries.js'

/*
 * The pointers of validation problems, with each validator a Fastify app is
 * commonly given: Fastify's own Ajv, the zod provider's compiler and
 * TypeBox's. Each reports errors in its own shape; the problem's `errors`
 * are RFC 6901 pointers whatever the shape.
 */

interface Validator {
  name: string
  /** A Fastify app that validates with this validator, the problem details plugin registered. */
  createApp: () => Promise<FastifyInstance>
  /**
   * A body schema: an object with one required member, `first`, an object
   * with one required integer member, `second`; both refuse other members.
   */
  nestedSchema: (first: string, second: string) => unknown
}

async function appWith<Schema> (options: FastifyServerOptions, compiler?: FastifySchemaCompiler<Schema>): Promise<FastifyInstance> {
  const app = Fastify(options)
  if (compiler !== undefined) app.setValidatorCompiler<Schema>(compiler)
  await app.register(resilience, { loadShedding: false })
  return app
}

const VALIDATORS: Validator[] = [
  {
    name: "Fastify's Ajv",
    // Fastify's Ajv removes additional properties by default instead of
    // reporting them; and it reports a missing property named "" only with
    // allErrors (its first-error code tests the name for truth).
    createApp: async () => await appWith({ ajv: { customOptions: { removeAdditional: false, allErrors: true } } }),
    nestedSchema: (first, second) => ({
      type: 'object',
      additionalProperties: false,
      required: [first],
      properties: {
        [first]: { type: 'object', additionalProperties: false, required: [second], properties: { [second]: { type: 'integer' } } },
      },
    }),
  },
  {
    name: "fastify-type-provider-zod's compiler",
    createApp: async () => await appWith({}, zodValidatorCompiler),
    nestedSchema: (first, second) => z.strictObject({ [first]: z.strictObject({ [second]: z.number().int() }) }),
  },
  {
    name: "@fastify/type-provider-typebox's TypeBoxValidatorCompiler",
    createApp: async () => await appWith({}, TypeBoxValidatorCompiler),
    nestedSchema: (first, second) => Type.Object({ [first]: Type.Object({ [second]: Type.Integer() }, { additionalProperties: false }) }, { additionalProperties: false }),
  },
]

const [ajv, zod, typebox] = VALIDATORS as [Validator, Validator, Validator]

// The same order schema in each validator's own terms.
const ORDER_SCHEMAS = new Map<Validator, unknown>([
  [ajv, {
    type: 'object',
    additionalProperties: false,
    required: ['sku'],
    properties: {
      sku: { type: 'integer' },
      'a/b': { type: 'string' },
      'c~d': { type: 'number' },
      address: { type: 'object', properties: { zip: { type: 'integer' } } },
      items: { type: 'array', items: { type: 'integer' } },
    },
  }],
  [zod, z.strictObject({
    sku: z.number().int(),
    'a/b': z.string().optional(),
    'c~d': z.number().optional(),
    address: z.object({ zip: z.number().int().optional() }).optional(),
    items: z.array(z.number().int()).optional(),
  })],
  [typebox, Type.Object({
    sku: Type.Integer(),
    'a/b': Type.Optional(Type.String()),
    'c~d': Type.Optional(Type.Number()),
    address: Type.Optional(Type.Object({ zip: Type.Optional(Type.Integer()) })),
    items: Type.Optional(Type.Array(Type.Integer())),
  }, { additionalProperties: false })],
])

const entry = (pointer: string, detail: string, keyword: string): Record<string, string> => ({ location: 'body', pointer, detail, keyword })

// Each body breaks the order schema in one place; the errors are each
// validator's, in its words, at the pointer the documentation promises.
// (Ajv's default type coercion turns a number into a string, so "a/b" gets an object.)
const CASES: Array<[string, unknown, Map<Validator, Array<Record<string, string>>>]> = [
  ['a key holding "/"', { sku: 1, 'a/b': { x: 1 } }, new Map([
    [ajv, [entry('/a~1b', 'must be string', 'type')]],
    [zod, [entry('/a~1b', 'Invalid input: expected string, received object', 'invalid_type')]],
    [typebox, [entry('/a~1b', 'must be string', 'type')]],
  ])],
  ['a key holding "~"', { sku: 1, 'c~d': 'z' }, new Map([
    [ajv, [entry('/c~0d', 'must be number', 'type')]],
    [zod, [entry('/c~0d', 'Invalid input: expected number, received string', 'invalid_type')]],
    [typebox, [entry('/c~0d', 'must be number', 'type')]],
  ])],
  ['a missing required property', {}, new Map([
    [ajv, [entry('/sku', "must have required property 'sku'", 'required')]],
    [zod, [entry('/sku', 'Invalid input: expected number, received undefined', 'invalid_type')]],
    [typebox, [entry('/sku', 'must have required properties sku', 'required')]],
  ])],
  ['an extra property', { sku: 1, extra: 1 }, new Map([
    [ajv, [entry('/extra', 'must NOT have additional properties', 'additionalProperties')]],
    [zod, [entry('/extra', 'Unrecognized key: "extra"', 'unrecognized_keys')]],
    // TypeBox reports the extra property twice: once as the false schema it
    // met there, once as the object's additionalProperties.
    [typebox, [entry('/extra', 'schema is false', 'boolean'), entry('/extra', 'must not have additional properties', 'additionalProperties')]],
  ])],
  ['two extra properties', { sku: 1, extra: 1, 'x/y': 2 }, new Map([
    [ajv, [
      entry('/extra', 'must NOT have additional properties', 'additionalProperties'),
      entry('/x~1y', 'must NOT have additional properties', 'additionalProperties'),
    ]],
    [zod, [
      entry('/extra', 'Unrecognized keys: "extra", "x/y"', 'unrecognized_keys'),
      entry('/x~1y', 'Unrecognized keys: "extra", "x/y"', 'unrecognized_keys'),
    ]],
    [typebox, [
      entry('/extra', 'schema is false', 'boolean'),
      entry('/x~1y', 'schema is false', 'boolean'),
      entry('/extra', 'must not have additional properties', 'additionalProperties'),
      entry('/x~1y', 'must not have additional properties', 'additionalProperties'),
    ]],
  ])],
  ['a nested property', { sku: 1, address: { zip: 'none' } }, new Map([
    [ajv, [entry('/address/zip', 'must be integer', 'type')]],
    [zod, [entry('/address/zip', 'Invalid input: expected number, received string', 'invalid_type')]],
    [typebox, [entry('/address/zip', 'must be integer', 'type')]],
  ])],
  ['an array item', { sku: 1, items: [1, 'two'] }, new Map([
    [ajv, [entry('/items/1', 'must be integer', 'type')]],
    [zod, [entry('/items/1', 'Invalid input: expected number, received string', 'invalid_type')]],
    [typebox, [entry('/items/1', 'must be integer', 'type')]],
  ])],
]

let current: FastifyInstance | undefined
afterEach(async () => { await current?.close() })

describe.each(VALIDATORS)('validation pointers with $name', (validator) => {
  it.each(CASES)('%s', async (_name, payload, expected) => {
    current = await validator.createApp()
    current.post('/orders', { schema: { body: ORDER_SCHEMAS.get(validator) } }, async () => ({ ok: true }))
    const res = await current.inject({ method: 'POST', url: '/orders', payload: payload as object })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:validation-failed' })
    expect(res.json().errors).toEqual(expected.get(validator))
  })
})

/** The members a JSON pointer designates (RFC 6901 §4), or `undefined` for a string that is not one. */
function decodePointer (pointer: string): string[] | undefined {
  if (!/^(?:\/(?:[^~/]|~[01])*)*$/.test(pointer)) return undefined
  return pointer.split('/').slice(1).map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'))
}

// Names a client may give a member: "/", "~" (and "~0", "~1", which would
// read as escapes were they left as they are), any unicode, the empty name.
// Fastify refuses a body holding "__proto__", or "constructor" holding
// "prototype", before any validator sees it.
const memberName = fc.string({
  unit: fc.oneof(fc.constantFrom('/', '~', '0', '1', 'a'), fc.constantFrom('é', '漢', '😀', '\u0000'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })),
  maxLength: 6,
}).filter((name) => !['__proto__', 'constructor', 'prototype'].includes(name))

describe.each(VALIDATORS)('validation pointers of any member name with $name', (validator) => {
  it('each pointer decodes to the path of the member at fault', async () => {
    await fc.assert(fc.asyncProperty(memberName, memberName, memberName, async (first, second, extra) => {
      fc.pre(extra !== second)
      const app = await validator.createApp()
      try {
        app.post('/orders', { schema: { body: validator.nestedSchema(first, second) } }, async () => ({ ok: true }))
        const bodies: Array<[unknown, string[]]> = [
          [{ [first]: { [second]: 'not a number' } }, [first, second]],
          [{ [first]: {} }, [first, second]],
          [{ [first]: { [second]: 1, [extra]: 1 } }, [first, extra]],
        ]
        for (const [payload, path] of bodies) {
          const res = await app.inject({ method: 'POST', url: '/orders', payload: payload as object })
          expect(res.statusCode).toBe(400)
          const errors: Array<{ pointer: string }> = res.json().errors
          expect(errors.length).toBeGreaterThan(0)
          for (const error of errors) expect(decodePointer(error.pointer)).toEqual(path)
        }
      } finally {
        await app.close()
      }
    }), APP_PROPERTY_RUNS)
  })
})
