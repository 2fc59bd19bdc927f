import { existsSync, statSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
import { describe, expect, test } from 'vitest'
import { ROOT, anchorsOf, markdownFiles, proseOf, readRepoFile } from '../helpers/markdown.js'

interface Link { file: string, line: number, target: string }

function relativeLinks (file: string): Link[] {
  const links: Link[] = []
  proseOf(readRepoFile(file)).forEach((line, index) => {
    // Inline code is not a link.
    const text = line.replace(/`[^`]*`/g, '')
    for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = match[1] ?? ''
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // https:, mailto:, urn:
      links.push({ file, line: index + 1, target })
    }
  })
  return links
}

function broken (link: Link): string | undefined {
  const [path = '', anchor] = link.target.split('#')
  const file = path === '' ? link.file : normalize(join(dirname(link.file), path))
  if (file.startsWith('..')) return 'points outside the repository'
  const absolute = join(ROOT, file)
  if (!existsSync(absolute)) return `${file} does not exist`
  if (anchor === undefined) return undefined
  if (!statSync(absolute).isFile() || !file.endsWith('.md')) return `#${anchor} on a file that is not Markdown`
  if (!anchorsOf(readRepoFile(file)).has(anchor)) return `${file} has no heading #${anchor}`
  return undefined
}

describe('documentation links', () => {
  test('the docs are split into pages and the README links to them', () => {
    const files = markdownFiles()
    expect(files).toContain('README.md')
    expect(files.filter((file) => file.startsWith('docs/')).length).toBeGreaterThan(5)
    expect(relativeLinks('README.md').length).toBeGreaterThan(10)
  })

  test.each(markdownFiles())('every relative link and anchor of %s resolves', (file) => {
    const failures = relativeLinks(file).flatMap((link) => {
      const why = broken(link)
      return why === undefined ? [] : [`${link.file}:${link.line} (${link.target}): ${why}`]
    })
    expect(failures).toEqual([])
  })

  test('a heading anchor follows GitHub: lowercase, punctuation dropped, spaces to dashes, duplicates numbered', () => {
    const anchors = anchorsOf('# `resilience` (umbrella)\n## Decisions\n### Decisions\n```\n# not a heading\n```\n## Dependencies (outbound calls)\n')
    expect([...anchors]).toEqual(['resilience-umbrella', 'decisions', 'decisions-1', 'dependencies-outbound-calls'])
  })

  test('the README stays an entrance: at most about 300 lines', () => {
    expect(readRepoFile('README.md').split('\n').length).toBeLessThanOrEqual(320)
  })
})
