import type { CheckResult, CheckStatus } from './check-runner.js'

/** The media type of the IETF health check response format (draft-inadarei-api-health-check). */
export const HEALTH_CONTENT_TYPE = 'application/health+json'

/** One entry of a health document's `checks` object. */
export interface HealthCheckEntry {
  status: CheckStatus
  componentType?: string
  observedValue?: unknown
  observedUnit?: string
  output?: string
  time?: string
}

/** A health document: `checks` keys are `component:measurement`, values arrays, as the draft has them. */
export interface HealthDocument {
  status: CheckStatus
  output?: string
  checks?: Record<string, HealthCheckEntry[]>
}

export function entryOf (result: CheckResult): HealthCheckEntry {
  const entry: HealthCheckEntry = { status: result.status }
  if (result.componentType !== undefined) entry.componentType = result.componentType
  if (result.observedValue !== undefined) entry.observedValue = result.observedValue
  if (result.observedUnit !== undefined) entry.observedUnit = result.observedUnit
  if (result.output !== undefined) entry.output = result.output
  entry.time = result.time
  return entry
}

/** The overall status: any fail fails, else any warn warns, else pass. */
export function overallStatus (checks: Record<string, HealthCheckEntry[]>): CheckStatus {
  let status: CheckStatus = 'pass'
  for (const entries of Object.values(checks)) {
    for (const entry of entries) {
      if (entry.status === 'fail') return 'fail'
      if (entry.status === 'warn') status = 'warn'
    }
  }
  return status
}

/** The names of the failing checks, for a problem's detail. */
export function failingChecks (checks: Record<string, HealthCheckEntry[]>): string[] {
  return Object.entries(checks).filter(([, entries]) => entries.some((entry) => entry.status === 'fail')).map(([name]) => name)
}
