import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import resilience, { errors, problemDetails } from '../../plugins/index.js'
import { registrationError } from '../helpers/registration.js'

describe('problem details options', () => {
  it.each([
    ['a relative typeBase', { typeBase: '/problems/' }, /option 'problemDetails\.typeBase' expects an absolute URI.*instead got a 'string' \("\/problems\/"\)/],
    ['a numeric typeBase', { typeBase: 42 }, /problemDetails\.typeBase.*instead got a 'number' \(42\)/],
    ['a non-boolean exposeInternalErrors', { exposeInternalErrors: 'yes' }, /problemDetails\.exposeInternalErrors' expects a boolean/],
    ['an unknown option', { typebase: 'https://x/' }, /unknown option 'typebase' in problemDetails; expected one of: typeBase, types, exposeInternalErrors, notFound/],
    ['a type with a bad slug', { types: { 'Bad Slug': { title: 'x', status: 400 } } }, /problem type 'Bad Slug' cannot be registered: a slug is lowercase/],
    ['a type with a success status', { types: { ok: { title: 'x', status: 200 } } }, /problem type 'ok' cannot be registered: status expects an integer from 400 to 599, instead got a 'number' \(200\)/],
    ['a type without a title', { types: { empty: { title: ' ', status: 400 } } }, /problem type 'empty' cannot be registered: title expects a non-empty string/],
    ['a type clashing with a built-in one', { types: { 'validation-failed': { title: 'Other', status: 422 } } }, /already registered as 400 "Request validation failed"/],
  ])('%s fails at registration with a clear message', async (_name, options, message) => {
    const error = await registrationError((app) => app.register(problemDetails, options as never))
    expect(error).toBeInstanceOf(TypeError)
    expect(error.message).toMatch(message)
  })

  it('refuses a key a problem type does not know (FRS_ERR_OPTION_UNKNOWN) instead of dropping it', async () => {
    const error = await registrationError((app) => app.register(resilience, { problemDetails: { types: { 'out-of-stock': { title: 'Out of stock', status: 409, detail: 'Default detail' } as never } } }))
    expect(error).toBeInstanceOf(errors.FRS_ERR_OPTION_UNKNOWN)
    expect(error.message).toBe("fastify-resilience: unknown option 'detail' in problemDetails.types.out-of-stock; expected one of: title, status, description")
  })

  it('the umbrella refuses an unknown capability key, naming the known ones', async () => {
    const error = await registrationError((app) => app.register(resilience, { deadline: {} } as never))
    expect(error.message).toMatch(/unknown option 'deadline' in resilience options; expected one of: problemDetails, deadlines, dependencies, loadShedding, chaos, idempotency, errorBudget/)
  })

  it('the umbrella refuses a capability value that is neither an object nor false', async () => {
    const error = await registrationError((app) => app.register(resilience, { problemDetails: true } as never))
    expect(error.message).toMatch(/option 'problemDetails' expects an object or false, instead got a 'boolean' \(true\)/)
  })

  it('problemDetails: false leaves Fastify error handling as it was', async () => {
    const app = Fastify()
    await app.register(resilience, { problemDetails: false, deadlines: false, loadShedding: false, chaos: false, idempotency: false, errorBudget: false })
    app.get('/boom', async () => { throw new Error('plain') })
    const res = await app.inject('/boom')
    expect(res.headers['content-type']).toMatch(/^application\/json/)
    expect(app.hasReplyDecorator('problem')).toBe(false)
    await app.close()
  })

  it('problemDetails: false with capabilities that answer with problems is refused, naming them and the way out', async () => {
    const error = await registrationError((app) => app.register(resilience, { problemDetails: false }))
    expect(error).toMatchObject({ code: 'FRS_ERR_OPTION_INVALID' })
    expect(error.message).toContain("option 'problemDetails' expects problem details, which deadlines, loadShedding, chaos, idempotency, errorBudget answer with: register problemDetails before the umbrella, or set those to false too, instead got false")
  })

  it('problemDetails: false with problem details registered before the umbrella keeps them, and every capability works', async () => {
    const app = Fastify()
    await app.register(problemDetails, { typeBase: 'https://errors.example.com/' })
    await app.register(resilience, { problemDetails: false })
    app.get('/slow', { config: { deadline: { timeoutMs: 20 } } }, async () => { await new Promise((resolve) => setTimeout(resolve, 2_000)); return 'late' })
    const res = await app.inject('/slow')
    expect(res.statusCode).toBe(504)
    expect(res.json()).toMatchObject({ type: 'https://errors.example.com/deadline-exceeded' })
    await app.close()
  })

  it('register(resilience) with no options enables problem details', async () => {
    const app = Fastify()
    await app.register(resilience)
    app.get('/boom', async () => { throw new Error('plain') })
    expect((await app.inject('/boom')).headers['content-type']).toMatch(/^application\/problem\+json/)
    await app.close()
  })
})
