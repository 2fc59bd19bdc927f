import { Buffer } from 'node:buffer'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

/** A static file of the page, held in memory (a few tens of kilobytes in all). */
export interface Asset {
  body: Buffer
  type: string
  etag: string
}

/**
 * The page's own script and stylesheet ship in the package's
 * `assets/status-page/` folder, beside `src/` when running from source and
 * two levels up from `dist/src/status-page/` once built.
 */
function ownAssetsFolder (): string {
  for (const relative of ['../../assets/status-page/', '../../../assets/status-page/']) {
    const folder = fileURLToPath(new URL(relative, import.meta.url))
    if (existsSync(folder)) return folder
  }
  return fileURLToPath(new URL('../../assets/status-page/', import.meta.url))
}

const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', svg: 'image/svg+xml' }

/** Loads the page's assets: its script and stylesheet, and uPlot's, from the installed `uplot` package. */
export async function loadAssets (): Promise<{ files: Map<string, Asset>, version: string }> {
  const require = createRequire(import.meta.url)
  const folder = ownAssetsFolder()
  const paths: Record<string, string> = {
    'status.js': folder + 'status.js',
    'status.css': folder + 'status.css',
    'icon.svg': folder + 'icon.svg',
    'uPlot.iife.min.js': require.resolve('uplot/dist/uPlot.iife.min.js'),
    'uPlot.min.css': require.resolve('uplot/dist/uPlot.min.css'),
  }
  const files = new Map<string, Asset>()
  const all = createHash('sha256')
  for (const [name, path] of Object.entries(paths)) {
    const body = await readFile(path)
    const hash = createHash('sha256').update(body).digest('base64url').slice(0, 16)
    all.update(hash)
    files.set(name, { body, type: TYPES[name.slice(name.lastIndexOf('.') + 1)] ?? 'application/octet-stream', etag: `"${hash}"` })
  }
  return { files, version: all.digest('base64url').slice(0, 12) }
}
