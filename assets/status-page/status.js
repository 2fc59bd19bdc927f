// The status page's script: follows the server's event stream and draws
// what it says. Plain browser JavaScript, no build step; charts by uPlot.
(function statusPage () {
  'use strict'

  const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.getAttribute('content') ?? ''
  const base = meta('frs-status-base')
  let token = meta('frs-csrf-token')

  /** Series colours (Okabe–Ito, readable by most colour-blind people) and dash patterns, so that colour is never the only cue. */
  const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000']
  const DASHES = [[], [6, 4], [2, 3], [10, 3, 2, 3], [1, 6], [12, 6], [4, 2, 4, 6]]
  const STATE_ICONS = { ok: '✓', warning: '▲', critical: '✖', exhausted: '■', closed: '✓', 'half-open': '◐', open: '✖' }
  const STATE_WORDS = { ok: 'OK', warning: 'Warning', critical: 'Critical', exhausted: 'Exhausted', closed: 'Closed', 'half-open': 'Half-open', open: 'Open' }

  const view = { intervalMs: 1000, historyMs: 3_600_000, history: { t: [], series: {} }, snapshot: null }
  /** Charts by key: they persist across updates, only their data changes. */
  const charts = new Map()

  // ---- small DOM helpers (text only: nothing from the server becomes markup)

  function el (tag, attributes, ...children) {
    const node = document.createElement(tag)
    for (const [name, value] of Object.entries(attributes ?? {})) node.setAttribute(name, value)
    for (const child of children) if (child !== null && child !== undefined) node.append(child)
    return node
  }

  function facts (pairs) {
    const list = el('dl', { class: 'facts' })
    for (const [term, value] of pairs) list.append(el('div', null, el('dt', null, term), el('dd', null, value)))
    return list
  }

  function badge (state) {
    return el('span', { class: `badge state-${state}` }, el('span', { class: 'icon', 'aria-hidden': 'true' }, STATE_ICONS[state] ?? '?'), ` ${STATE_WORDS[state] ?? state}`)
  }

  const integer = (value) => Math.round(value).toLocaleString('en')
  const decimal = (value, digits = 1) => value === null || value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits)
  const percent = (fraction, digits = 1) => fraction === null ? '–' : `${(fraction * 100).toFixed(digits)} %`

  function duration (ms) {
    const seconds = Math.ceil(ms / 1000)
    if (seconds < 60) return `${seconds} s`
    const minutes = Math.floor(seconds / 60)
    return minutes < 60 ? `${minutes} min ${seconds % 60} s` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`
  }

  /** Replaces a section's facts, keeping its charts. */
  function fill (section, ...nodes) {
    const body = document.querySelector(`#${section} .body`)
    let current = body.querySelector(':scope > .current')
    if (current === null) {
      current = el('div', { class: 'current' })
      body.prepend(current)
    }
    current.replaceChildren(...nodes.filter((node) => node !== null))
    return body
  }

  function setScope (section, text) {
    document.querySelector(`#${section} .scope`).textContent = text
  }

  // ---- charts

  function cssVar (name) {
    return window.getComputedStyle(document.documentElement).getPropertyValue(name).trim()
  }

  /** A chart of the last hour with a legend of lines (colour and dash) and current values. */
  function chart (parent, key, title, series, unit) {
    let entry = charts.get(key)
    if (entry === undefined) {
      const plot = el('div', { class: 'plot', role: 'img' })
      const legend = el('ul', { class: 'legend' })
      const figure = el('figure', { class: 'chart', 'data-chart': key }, el('figcaption', null, title), plot, legend)
      parent.append(figure)
      entry = { figure, plot, legend, uplot: null, series }
      const UPlot = window.uPlot
      if (typeof UPlot === 'function') {
        const axis = { stroke: cssVar('--muted'), grid: { stroke: cssVar('--grid'), width: 1 }, ticks: { stroke: cssVar('--grid'), width: 1 } }
        entry.uplot = new UPlot({
          width: Math.max(200, plot.clientWidth),
          height: 150,
          legend: { show: false },
          cursor: { show: false },
          scales: {
            x: { time: true },
            y: { range: (_u, min, max) => [Math.min(0, min), Math.max(max, 1)] },
            right: { range: (_u, min, max) => [Math.min(0, min), Math.max(max, 1)] },
          },
          // A series on the `right` scale (a burn rate beside a percentage) gets its own axis.
          // Whole seconds at least: sub-second ticks only crowd a chart of a few seconds.
          axes: [{ ...axis, incrs: [1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600] }, { ...axis, size: 48 }, ...(series.some((line) => line.scale === 'right') ? [{ ...axis, scale: 'right', side: 1, size: 40, grid: { show: false } }] : [])],
          series: [{}, ...series.map((line, index) => ({ label: line.label, scale: line.scale ?? 'y', stroke: PALETTE[index % PALETTE.length], dash: DASHES[index % DASHES.length], width: 2, points: { show: false } }))],
        }, [[], ...series.map(() => [])], plot)
        new window.ResizeObserver(() => entry.uplot.setSize({ width: Math.max(200, plot.clientWidth), height: 150 })).observe(plot)
      }
      charts.set(key, entry)
    } else if (entry.figure.parentNode !== parent) {
      parent.append(entry.figure)
    }
    const times = view.history.t.map((ms) => ms / 1000)
    const columns = series.map((line) => view.history.series[line.key] ?? times.map(() => null))
    entry.uplot?.setData([times, ...columns])
    const now = columns.map((column) => column[column.length - 1] ?? null)
    entry.legend.replaceChildren(...series.map((line, index) => el('li', null, swatch(index), ` ${line.label}: ${decimal(now[index])}${unit}`)))
    entry.plot.setAttribute('aria-label', `${title}. Now: ${series.map((line, index) => `${line.label} ${decimal(now[index])}${unit}`).join(', ')}.`)
  }

  function swatch (index) {
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg')
    svg.setAttribute('viewBox', '0 0 24 8')
    svg.setAttribute('class', 'swatch')
    svg.setAttribute('aria-hidden', 'true')
    const line = document.createElementNS('http://www.w3.org/2000/svg', 'line')
    for (const [name, value] of Object.entries({ x1: 0, y1: 4, x2: 24, y2: 4, stroke: PALETTE[index % PALETTE.length], 'stroke-width': 2.5, 'stroke-dasharray': DASHES[index % DASHES.length].join(' ') || 'none' })) line.setAttribute(name, String(value))
    svg.append(line)
    return svg
  }

  // ---- sections

  const SCOPES = {
    fleet: 'Fleet-wide: every instance that shares the fleet store.',
    'no-fleet-store': 'This instance only: no fleet store is configured.',
    'fleet-store-unavailable': 'This instance only: the fleet store could not be read.',
  }

  function renderSlos (slos) {
    if (slos === null) {
      setScope('slos', '')
      fill('slos', el('p', { class: 'muted' }, 'Error budgets are not registered on this server.'))
      return
    }
    setScope('slos', slos.scope === 'fleet' ? SCOPES.fleet : SCOPES[slos.reason] ?? 'This instance only.')
    if (slos.items.length === 0) {
      fill('slos', el('p', { class: 'muted' }, 'No SLO is declared.'))
      return
    }
    const cards = slos.items.map((slo) => {
      const rates = el('table', { class: 'rates' },
        el('caption', null, 'Burn rate per window'),
        el('thead', null, el('tr', null, el('th', { scope: 'col' }, 'Window'), el('th', { scope: 'col' }, 'Burn rate'))),
        el('tbody', null, ...slo.burnRates.map((entry) => el('tr', null, el('th', { scope: 'row' }, entry.window), el('td', null, `${decimal(entry.rate, 2)}×`)))))
      const card = el('article', { class: 'card', 'data-slo': slo.key },
        el('h3', null, `${slo.name} `, el('span', { class: 'muted' }, `(${slo.sli})`), ' ', badge(slo.state)),
        facts([
          ['Budget left', percent(slo.budgetRemaining)],
          ['Target', `${percent(slo.target, 2)}${slo.thresholdMs === null ? '' : ` within ${slo.thresholdMs} ms`}`],
          ['Good so far', slo.actual === null ? 'no events yet' : percent(slo.actual, 2)],
          ['Events', integer(slo.events)],
        ]),
        rates,
        slo.firing.length === 0 ? null : el('ul', { class: 'firing' }, ...slo.firing.map((rule) => el('li', null, el('span', { 'aria-hidden': 'true' }, '⚑ '), rule))))
      return card
    })
    const body = fill('slos', ...cards)
    for (const slo of slos.items) {
      const card = body.querySelector(`[data-slo="${window.CSS.escape(slo.key)}"]`)
      const shortest = slo.burnRates[0]?.window ?? ''
      chart(card, `slo:${slo.key}`, `${slo.name} (${slo.sli}): budget left and burn rate over ${shortest}, last hour`, [
        { key: `slo:${slo.key}:budget`, label: 'Budget left (%, left axis)' },
        { key: `slo:${slo.key}:burn`, label: `Burn rate ${shortest} (×, right axis)`, scale: 'right' },
      ], '')
    }
  }

  function renderShedding (shedding) {
    if (shedding === null) {
      fill('shedding', el('p', { class: 'muted' }, 'Load shedding is not registered on this server.'))
      return
    }
    const reasons = Object.keys(shedding.byReason)
    const priorities = Object.keys(shedding.byPriority)
    const body = fill('shedding',
      facts([
        ['Limit', shedding.limit === null ? 'none' : integer(shedding.limit)],
        ['In flight', integer(shedding.inFlight)],
        ['Queued', integer(shedding.queued)],
        ['Admitted', integer(shedding.admitted)],
        ['Shed', integer(shedding.shed)],
        ['Pressure', shedding.pressureLevel === 0 ? 'none' : `level ${shedding.pressureLevel} of 3`],
      ]),
      el('table', { class: 'counts' },
        el('caption', null, 'Shed since start'),
        el('tbody', null,
          ...reasons.map((reason) => el('tr', null, el('th', { scope: 'row' }, `reason: ${reason}`), el('td', null, integer(shedding.byReason[reason])))),
          ...priorities.map((priority) => el('tr', null, el('th', { scope: 'row' }, `priority: ${priority}`), el('td', null, integer(shedding.byPriority[priority])))))))
    chart(body, 'shed:reason', 'Sheds per second by reason, last hour', reasons.map((reason) => ({ key: `shed:reason:${reason}`, label: reason })), '/s')
    chart(body, 'shed:priority', 'Sheds per second by priority, last hour', priorities.map((priority) => ({ key: `shed:priority:${priority}`, label: priority })), '/s')
    chart(body, 'shed:pool', 'Limit, in flight and queued, last hour', [
      { key: 'shedding:limit', label: 'limit' },
      { key: 'shedding:inFlight', label: 'in flight' },
      { key: 'shedding:queued', label: 'queued' },
    ], '')
  }

  function renderDeadlines (deadlines) {
    if (deadlines === null) {
      fill('deadlines', el('p', { class: 'muted' }, 'Not measured: deadlines or metrics are not registered on this server.'))
      return
    }
    const routes = deadlines.routes.filter((route) => route.expired + route.refused + route.clientClosed > 0)
    fill('deadlines',
      facts([['Expired (504)', integer(deadlines.expired)], ['Refused (out of time)', integer(deadlines.refused)], ['Client gone', integer(deadlines.clientClosed)]]),
      routes.length === 0
        ? null
        : el('table', { class: 'routes' },
          el('caption', null, 'Per route'),
          el('thead', null, el('tr', null, ...['Route', 'Expired', 'Refused', 'Gone'].map((name) => el('th', { scope: 'col' }, name)))),
          el('tbody', null, ...routes.map((route) => el('tr', null, el('th', { scope: 'row' }, route.route), el('td', null, integer(route.expired)), el('td', null, integer(route.refused)), el('td', null, integer(route.clientClosed)))))))
  }

  function renderIdempotency (idempotency) {
    if (idempotency === null) {
      fill('idempotency', el('p', { class: 'muted' }, 'Not measured: idempotency or metrics are not registered on this server.'))
      return
    }
    fill('idempotency', facts([
      ['Executed', integer(idempotency.executed)],
      ['Replayed', integer(idempotency.replayed)],
      ['Conflicts (in flight, 409)', integer(idempotency.conflicts)],
      ['Key reused for another request (422)', integer(idempotency.mismatches)],
      ['Store errors', integer(idempotency.storeErrors)],
    ]))
  }

  function renderChaos (chaos) {
    const button = document.getElementById('kill-chaos')
    if (chaos === null) {
      button.disabled = true
      fill('chaos', el('p', { class: 'muted' }, 'Chaos is not registered on this server.'))
      return
    }
    button.disabled = false
    const types = Object.entries(chaos.injectedByType).filter(([, count]) => count > 0)
    fill('chaos',
      facts([
        ['Injection', chaos.enabled ? 'On' : 'Off'],
        ...(chaos.stoppedBecause === null ? [] : [['Last stopped', chaos.stoppedBecause]]),
        ['Faults in progress', integer(chaos.active)],
        ['Faults injected', `${integer(chaos.injected)}${types.length === 0 ? '' : ` (${types.map(([type, count]) => `${type} ${integer(count)}`).join(', ')})`}`],
      ]),
      chaos.experiments.length === 0
        ? el('p', { class: 'muted' }, 'No experiment.')
        : el('ul', { class: 'experiments' }, ...chaos.experiments.map((experiment) => el('li', { 'data-experiment': experiment.name },
          el('strong', null, experiment.name), ': ',
          experiment.running ? `${chaos.enabled ? 'running' : 'paused while injection is off'}, ${duration(experiment.endsInMs)} left` : experiment.startsInMs > 0 ? `starts in ${duration(experiment.startsInMs)}` : 'ended',
          `, ${integer(experiment.injected)} injected`))))
  }

  function renderDependencies (dependencies) {
    if (dependencies === null || dependencies.length === 0) {
      fill('dependencies', el('p', { class: 'muted' }, 'No dependency is declared on this server.'))
      return
    }
    fill('dependencies', el('ul', { class: 'breakers' }, ...dependencies.map((dependency) => el('li', { 'data-dependency': dependency.name },
      el('h3', null, `${dependency.name} `, badge(dependency.state)),
      facts([
        ['Failure rate', `${percent(dependency.failureRate)} of ${integer(dependency.windowCalls)} calls`],
        ['Refused without a call', integer(dependency.rejections)],
        ['In flight', integer(dependency.inFlight)],
        ...(dependency.state === 'open' && dependency.openRemainingMs > 0 ? [['Half-opens in', duration(dependency.openRemainingMs)]] : []),
      ])))))
  }

  const PHASES = { serving: 'Serving', draining: 'Draining: readiness fails, requests still served', closing: 'Closing: new requests refused', closed: 'Closed' }

  function render () {
    const snapshot = view.snapshot
    if (snapshot === null) return
    const time = new Date(snapshot.at).toLocaleTimeString('en-GB')
    document.getElementById('updated').textContent = `Updated ${time}${snapshot.phase === null ? '' : ` · ${PHASES[snapshot.phase] ?? snapshot.phase}`}`
    renderSlos(snapshot.slos)
    renderShedding(snapshot.shedding)
    renderDeadlines(snapshot.deadlines)
    renderIdempotency(snapshot.idempotency)
    renderChaos(snapshot.chaos)
    renderDependencies(snapshot.dependencies)
  }

  // ---- the stream

  function addSample (sample) {
    const history = view.history
    const index = history.t.length
    history.t.push(sample.t)
    for (const [key, value] of Object.entries(sample.values)) {
      if (history.series[key] === undefined) history.series[key] = new Array(index).fill(null)
      history.series[key].push(value)
    }
    for (const column of Object.values(history.series)) if (column.length < history.t.length) column.push(null)
    const oldest = sample.t - view.historyMs
    let drop = 0
    while (drop < history.t.length && history.t[drop] < oldest) drop++
    if (drop > 0) {
      history.t.splice(0, drop)
      for (const column of Object.values(history.series)) column.splice(0, drop)
    }
  }

  function setConnection (state, text) {
    const node = document.getElementById('connection')
    if (node.dataset.state === state) return
    node.dataset.state = state
    node.replaceChildren(el('span', { class: 'icon', 'aria-hidden': 'true' }, state === 'live' ? '●' : '↻'), ` ${text}`)
  }

  function connect () {
    const source = new window.EventSource(`${base}/events`)
    source.addEventListener('init', (event) => {
      const data = JSON.parse(event.data)
      token = data.token
      view.intervalMs = data.intervalMs
      view.historyMs = data.historyMs
      view.history = data.history
      view.snapshot = data.snapshot
      setConnection('live', 'Live')
      render()
    })
    source.addEventListener('snapshot', (event) => {
      const data = JSON.parse(event.data)
      addSample(data.sample)
      view.snapshot = data.snapshot
      setConnection('live', 'Live')
      render()
    })
    source.addEventListener('error', () => {
      setConnection('reconnecting', 'Reconnecting…')
      // EventSource retries by itself after a dropped connection, but gives
      // up for good on an answer that is not a stream (a 503 while a server
      // restarts): start a new one then.
      if (source.readyState === window.EventSource.CLOSED) setTimeout(connect, 2000)
    })
  }

  // ---- the kill switch

  document.getElementById('kill-chaos').addEventListener('click', async (event) => {
    const button = event.currentTarget
    const result = document.getElementById('chaos-result')
    button.disabled = true
    result.textContent = 'Killing chaos…'
    try {
      const response = await fetch(`${base}/actions/kill-chaos`, { method: 'POST', headers: { 'x-csrf-token': token }, credentials: 'same-origin' })
      const body = await response.json().catch(() => ({}))
      result.textContent = response.ok ? 'Chaos killed: every fault ended, experiments stopped.' : `Refused (${response.status}): ${body.detail ?? 'no reason given'}`
    } catch {
      result.textContent = 'The server could not be reached.'
    } finally {
      button.disabled = view.snapshot?.chaos === null
      // Keep keyboard users where they were.
      if (document.activeElement === document.body) button.focus()
    }
  })

  connect()
})()
