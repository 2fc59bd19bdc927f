import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** The repository's root: the docs tests read its Markdown files. */
export const ROOT = new URL('../../', import.meta.url).pathname

/** Every Markdown file a reader of the repository meets: README, CONTRIBUTING, CHANGELOG and docs/*.md. */
export function markdownFiles (): string[] {
  const top = ['README.md', 'CONTRIBUTING.md', 'CHANGELOG.md'].filter((name) => readdirSync(ROOT).includes(name))
  const docs = readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)
  return [...top, ...docs]
}

export interface CodeBlock {
  /** The Markdown file, relative to the root. */
  file: string
  /** 1-based line of the block's first code line. */
  line: number
  lang: string
  code: string
  /** The `<!-- check: ... -->` marker on the line before the opening fence, if any. */
  check: string | undefined
}

/** The fenced code blocks of a Markdown text, with the marker that precedes each. */
export function codeBlocks (file: string, text: string): CodeBlock[] {
  const lines = text.split('\n')
  const blocks: CodeBlock[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)/.exec(lines[i] ?? '')
    if (open === null) continue
    const start = i + 1
    let end = start
    while (end < lines.length && !(lines[end] ?? '').startsWith('```')) end++
    const previous = i > 0 ? (lines[i - 1] ?? '') : ''
    const marker = /^<!-- check: ([\w-]+) -->$/.exec(previous.trim())
    blocks.push({ file, line: start + 1, lang: open[1] ?? '', code: lines.slice(start, end).join('\n'), check: marker?.[1] })
    i = end
  }
  return blocks
}

/** The text outside fenced code blocks, line for line (code lines blanked), so that links in code are not read. */
export function proseOf (text: string): string[] {
  let fenced = false
  return text.split('\n').map((line) => {
    if (line.startsWith('```')) {
      fenced = !fenced
      return ''
    }
    return fenced ? '' : line
  })
}

/** GitHub's anchor for each heading of a Markdown text (duplicates get -1, -2, …). */
export function anchorsOf (text: string): Set<string> {
  const seen = new Map<string, number>()
  const anchors = new Set<string>()
  for (const line of proseOf(text)) {
    const heading = /^#{1,6} (.+)$/.exec(line)
    if (heading === null) continue
    const slug = (heading[1] ?? '').trim().toLowerCase()
      .replace(/<[^>]*>/g, '')
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-')
    const count = seen.get(slug) ?? 0
    seen.set(slug, count + 1)
    anchors.add(count === 0 ? slug : `${slug}-${count}`)
  }
  return anchors
}

/** Read a file of the repository. */
export function readRepoFile (file: string): string {
  return readFileSync(join(ROOT, file), 'utf8')
}
