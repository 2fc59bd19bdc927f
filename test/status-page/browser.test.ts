import { mkdirSync } from 'node:fs'
import { chromium } from 'playwright-core'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { GAME_DAY, OPS_COOKIE, buildPrefixedStatusApp, buildStatusApp } from './helpers.js'
import type { StatusApp } from './helpers.js'

/*
 * The page in a real browser: Debian's chromium driven by playwright-core
 * (never a browser download). One browser for the file; each test its own
 * context. Waits are for conditions, with generous bounds: the page
 * updates every second, a busy machine may take a few.
 */
// What the functions passed to the page use: they run in the browser, this file is typed for Node.
interface PageElement { textContent: string | null, id: string }
declare const document: {
  querySelector: (selector: string) => PageElement | null
  querySelectorAll: (selector: string) => Iterable<PageElement>
  activeElement: PageElement | null
  documentElement: { scrollWidth: number }
}
declare const window: { innerWidth: number }
declare function getComputedStyle (element: PageElement): { outlineStyle: string }

// Debian's chromium (.ci/run installs it); CHROMIUM_PATH points elsewhere.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const WAIT_MS = 20_000
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url)

let browser: Browser
let status: StatusApp
let url: string
const contexts: BrowserContext[] = []

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM })
  status = await buildStatusApp()
  url = await status.app.listen({ port: 0, host: '127.0.0.1' })
})

afterEach(async () => {
  status.release()
  for (const context of contexts.splice(0)) await context.close()
})

afterAll(async () => {
  await browser?.close()
  await status?.app.close()
})

/** A page of a context that carries (or not) the ops cookie; console errors and page errors are collected. */
async function openPage (options: { authorized?: boolean, width?: number, base?: string } = {}): Promise<{ page: Page, errors: string[] }> {
  const base = options.base ?? url
  const context = await browser.newContext({ viewport: { width: options.width ?? 1200, height: 900 } })
  contexts.push(context)
  if (options.authorized ?? true) await context.addCookies([{ ...OPS_COOKIE, url: base }])
  const page = await context.newPage()
  const errors: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()) })
  page.on('pageerror', (error) => { errors.push(error.message) })
  return { page, errors }
}

/** `base`: the server's address, and the prefix of the page's context if any. */
async function openStatus (options: { width?: number, base?: string } = {}): Promise<{ page: Page, errors: string[] }> {
  const opened = await openPage(options)
  const response = await opened.page.goto(`${options.base ?? url}/resilience`)
  expect(response?.status()).toBe(200)
  await opened.page.waitForSelector('#connection[data-state="live"]', { timeout: WAIT_MS })
  await opened.page.waitForSelector('#shedding dl', { timeout: WAIT_MS })
  return opened
}

async function textOf (page: Page, selector: string): Promise<string> {
  return (await page.textContent(selector)) ?? ''
}

describe('status page in a browser', () => {
  it('loads without console errors and shows every section', { timeout: 60_000 }, async () => {
    const { page, errors } = await openStatus()
    for (const section of ['slos', 'shedding', 'deadlines', 'idempotency', 'chaos', 'dependencies']) {
      expect(await page.isVisible(`#${section} h2`)).toBe(true)
    }
    expect(await textOf(page, '#slos .scope')).toContain('This instance only: no fleet store is configured.')
    // uPlot ran: a canvas per chart.
    await page.waitForSelector('[data-chart="shed:reason"] canvas', { timeout: WAIT_MS })
    expect(errors).toEqual([])
  })

  it('shows a forced shed and a burning SLO within seconds, without a reload', { timeout: 60_000 }, async () => {
    const { page, errors } = await openStatus()
    const navigations: string[] = []
    page.on('framenavigated', (frame) => navigations.push(frame.url()))
    for (let index = 0; index < 10; index++) expect((await fetch(`${url}/flaky`)).status).toBe(500)
    // Two requests hold both slots; the third is shed (no queue).
    const held = [fetch(`${url}/hold`), fetch(`${url}/hold`)]
    await page.waitForFunction(() => document.querySelector('#shedding')?.textContent?.includes('In flight2') === true, undefined, { timeout: WAIT_MS })
    const shed = await fetch(`${url}/hold`)
    expect(shed.status).toBe(503)
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#shedding .counts tr')].map((row) => row.textContent)
      return rows.includes('reason: concurrency1') && rows.includes('priority: normal1')
    }, undefined, { timeout: WAIT_MS })
    await page.waitForFunction(() => /Exhausted|Critical/.test(document.querySelector('[data-slo="checkout/availability"] .badge')?.textContent ?? ''), undefined, { timeout: WAIT_MS })
    // Under load: kept as an artefact of the run.
    mkdirSync(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: new URL('status-page-under-load.png', ARTIFACTS).pathname, fullPage: true })
    status.release()
    await Promise.all(held)
    expect(navigations).toEqual([])
    expect(errors).toEqual([])
  })

  it('the kill switch stops an experiment', { timeout: 60_000 }, async () => {
    expect(status.app.chaos.enable()).toBe(true)
    status.app.chaos.start(GAME_DAY)
    expect((await fetch(`${url}/chaotic`)).status).toBe(503)
    const { page, errors } = await openStatus()
    await page.waitForSelector('[data-experiment="game-day"]', { timeout: WAIT_MS })
    expect(await textOf(page, '[data-experiment="game-day"]')).toMatch(/running, \d+ min/)
    await page.click('#kill-chaos')
    await page.waitForFunction(() => document.querySelector('#chaos-result')?.textContent?.startsWith('Chaos killed') === true, undefined, { timeout: WAIT_MS })
    expect(status.app.chaos.stats()).toMatchObject({ enabled: false, experiments: [] })
    expect((await fetch(`${url}/chaotic`)).status).toBe(200)
    await page.waitForFunction(() => document.querySelector('#chaos')?.textContent?.includes('No experiment.') === true, undefined, { timeout: WAIT_MS })
    expect(errors).toEqual([])
  })

  it('the kill switch works with the keyboard alone', { timeout: 60_000 }, async () => {
    expect(status.app.chaos.enable()).toBe(true)
    status.app.chaos.start(GAME_DAY)
    const { page, errors } = await openStatus()
    await page.waitForSelector('[data-experiment="game-day"]', { timeout: WAIT_MS })
    let focused = ''
    for (let presses = 0; presses < 30 && focused !== 'kill-chaos'; presses++) {
      await page.keyboard.press('Tab')
      focused = await page.evaluate(() => document.activeElement?.id ?? '')
    }
    expect(focused).toBe('kill-chaos')
    // The focus ring is drawn.
    expect(await page.evaluate(() => getComputedStyle(document.activeElement as PageElement).outlineStyle)).toBe('solid')
    await page.keyboard.press('Enter')
    await page.waitForFunction(() => document.querySelector('#chaos-result')?.textContent?.startsWith('Chaos killed') === true, undefined, { timeout: WAIT_MS })
    expect(status.app.chaos.stats()).toMatchObject({ enabled: false, experiments: [] })
    expect(errors).toEqual([])
  })

  it('in a context with a prefix, loads its assets, goes live and its kill switch acts', { timeout: 60_000 }, async () => {
    const { app, scope } = await buildPrefixedStatusApp('/v1')
    try {
      const address = await app.listen({ port: 0, host: '127.0.0.1' })
      scope.chaos.start(GAME_DAY)
      // The browser fetches what the page links and sends the CSRF cookie only under its Path.
      const { page, errors } = await openStatus({ base: `${address}/v1` })
      await page.waitForSelector('[data-chart="shed:reason"] canvas', { timeout: WAIT_MS })
      await page.waitForSelector('[data-experiment="game-day"]', { timeout: WAIT_MS })
      await page.click('#kill-chaos')
      await page.waitForFunction(() => document.querySelector('#chaos-result')?.textContent?.startsWith('Chaos killed') === true, undefined, { timeout: WAIT_MS })
      expect(scope.chaos.stats()).toMatchObject({ enabled: false, experiments: [] })
      expect(errors).toEqual([])
    } finally {
      await app.close()
    }
  })

  it('an unauthorised browser gets the 403 problem, and no stream', { timeout: 60_000 }, async () => {
    const { page } = await openPage({ authorized: false })
    const response = await page.goto(`${url}/resilience`)
    expect(response?.status()).toBe(403)
    expect(response?.headers()['content-type']).toContain('application/problem+json')
    expect(await page.textContent('body')).toContain('may not see the status page')
    const stream = await page.evaluate(async (target) => (await fetch(target)).status, `${url}/resilience/events`)
    expect(stream).toBe(403)
  })

  it('is readable at 320 px wide without horizontal scrolling', { timeout: 60_000 }, async () => {
    const { page, errors } = await openStatus({ width: 320 })
    await page.waitForSelector('[data-chart="shed:reason"] canvas', { timeout: WAIT_MS })
    const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, viewport: window.innerWidth }))
    expect(widths.scroll).toBeLessThanOrEqual(widths.viewport)
    // States are words as well as colours.
    expect(await textOf(page, '#dependencies, #slos')).not.toBe('')
    expect(errors).toEqual([])
  })

  it('reconnects to the stream after the server restarts', { timeout: 90_000 }, async () => {
    const first = await buildStatusApp({ sloName: 'before-restart' })
    const address = await first.app.listen({ port: 0, host: '127.0.0.1' })
    const port = Number(new URL(address).port)
    let second: StatusApp | undefined
    try {
      const { page } = await openStatus({ base: address })
      await page.waitForSelector('[data-slo="before-restart/availability"]', { timeout: WAIT_MS })
      await first.app.close()
      await page.waitForSelector('#connection[data-state="reconnecting"]', { timeout: WAIT_MS })
      second = await buildStatusApp({ sloName: 'after-restart' })
      await second.app.listen({ port, host: '127.0.0.1' })
      // The same page, not reloaded, shows the new server's data.
      await page.waitForSelector('[data-slo="after-restart/availability"]', { timeout: 45_000 })
      await page.waitForSelector('#connection[data-state="live"]', { timeout: WAIT_MS })
    } finally {
      await first.app.close()
      await second?.app.close()
    }
  })
})
