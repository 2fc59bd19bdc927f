/** What the page's HTML needs: where its assets and stream are, and the CSRF token for its actions. */
export interface PageSettings {
  /** The page's path as mounted, its context's prefix included; the stream, assets and actions are under it. */
  path: string
  csrfToken: string
  /** Content hashes of the assets, put in their URLs so that a new version is fetched. */
  assetVersion: string
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (character) => ESCAPES[character] ?? character)
}

/**
 * Content-Security-Policy of the page: its scripts, styles and stream come
 * from its own origin only, no inline script or style, no framing, no
 * form posted anywhere, no plugin.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

/**
 * The page: a skeleton of labelled sections that the script fills from
 * the stream. Settings travel in meta elements, not inline script, so
 * the CSP needs no exception.
 */
export function renderPage (settings: PageSettings): string {
  const base = escapeHtml(settings.path)
  const version = escapeHtml(settings.assetVersion)
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="frs-status-base" content="${base}">
<meta name="frs-csrf-token" content="${escapeHtml(settings.csrfToken)}">
<title>Resilience status</title>
<link rel="icon" href="${base}/assets/icon.svg?v=${version}">
<link rel="stylesheet" href="${base}/assets/uPlot.min.css?v=${version}">
<link rel="stylesheet" href="${base}/assets/status.css?v=${version}">
<script src="${base}/assets/uPlot.iife.min.js?v=${version}" defer></script>
<script src="${base}/assets/status.js?v=${version}" defer></script>
</head>
<body>
<header class="top">
<h1>Resilience status</h1>
<p id="connection" role="status" class="connection" data-state="connecting"><span class="icon" aria-hidden="true">…</span> <span class="text">Connecting</span></p>
<p id="updated" class="muted"></p>
</header>
<main>
<noscript><p>This page needs JavaScript to receive live updates.</p></noscript>
<section id="slos" aria-labelledby="slos-title"><h2 id="slos-title">Error budgets</h2><p class="scope"></p><div class="body"></div></section>
<section id="shedding" aria-labelledby="shedding-title"><h2 id="shedding-title">Load shedding</h2><p class="scope">This instance</p><div class="body"></div></section>
<section id="deadlines" aria-labelledby="deadlines-title"><h2 id="deadlines-title">Deadlines</h2><p class="scope">This instance</p><div class="body"></div></section>
<section id="idempotency" aria-labelledby="idempotency-title"><h2 id="idempotency-title">Idempotency keys</h2><p class="scope">This instance</p><div class="body"></div></section>
<section id="chaos" aria-labelledby="chaos-title"><h2 id="chaos-title">Chaos</h2><p class="scope">This instance</p><div class="body"></div>
<p class="actions"><button type="button" id="kill-chaos">Kill chaos</button></p>
<p id="chaos-result" role="status" class="result"></p></section>
<section id="dependencies" aria-labelledby="dependencies-title"><h2 id="dependencies-title">Dependencies</h2><p class="scope">This instance</p><div class="body"></div></section>
</main>
</body>
</html>
`
}
