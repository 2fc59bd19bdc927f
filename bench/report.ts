import { appendFileSync } from 'node:fs'

/*
 * What a benchmark found, printed as Markdown as it goes and, when
 * BENCH_REPORT names a file, appended to it as JSON lines for
 * bench/run-all.ts to turn into docs/benchmarks.md. Every table carries
 * the command that produced it.
 */

export interface TableRecord {
  kind: 'table'
  benchmark: string
  title: string
  command: string
  columns: string[]
  rows: string[][]
  notes: string[]
}

export interface TargetRecord {
  kind: 'target'
  benchmark: string
  name: string
  target: string
  measured: string
  met: boolean
  command: string
}

export type ReportRecord = TableRecord | TargetRecord

function save (record: ReportRecord): void {
  const file = process.env.BENCH_REPORT
  if (file !== undefined && file !== '') appendFileSync(file, `${JSON.stringify(record)}\n`)
}

export class Table {
  readonly #record: TableRecord
  #saved = false

  constructor (record: TableRecord) {
    this.#record = record
    console.log(`\n${record.title} (\`${record.command}\`)\n`)
    console.log(`| ${record.columns.join(' | ')} |`)
    console.log(`| ${record.columns.map(() => '---').join(' | ')} |`)
  }

  row (cells: readonly string[]): void {
    this.#record.rows.push([...cells])
    console.log(`| ${cells.join(' | ')} |`)
  }

  note (text: string): void {
    this.#record.notes.push(text)
    console.log(`\n${text}`)
  }

  /** Hands the table to the page; call once its rows are in. */
  end (): void {
    if (this.#saved) return
    this.#saved = true
    save(this.#record)
  }
}

export class Report {
  constructor (readonly benchmark: string, readonly command: string) {}

  table (title: string, columns: readonly string[], command = this.command): Table {
    return new Table({ kind: 'table', benchmark: this.benchmark, title, command, columns: [...columns], rows: [], notes: [] })
  }

  /** A target of the benchmark: what was aimed for, what was measured, and whether it was met. */
  target (name: string, target: string, measured: string, met: boolean, command = this.command): void {
    console.log(`target ${met ? 'met' : 'NOT met'}: ${name}: ${measured} (aim ${target})`)
    save({ kind: 'target', benchmark: this.benchmark, name, target, measured, met, command })
  }
}
