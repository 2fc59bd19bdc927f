import { describeValue } from '../describe.js'
import { FRS_ERR_OPTION_INVALID } from '../errors.js'

/** The capabilities that register metrics on the hub, by the names it lists them under. */
export const METRICS_CAPABILITIES = ['deadlines', 'dependencies', 'loadShedding', 'chaos', 'idempotency', 'errorBudget'] as const

/** A name with its case and separators set aside: `load-shedding` and `LOAD_SHEDDING` are loadShedding's. */
const looseName = (name: string): string => name.replace(/[-_\s]/g, '').toLowerCase()

/**
 * Checks the capabilities a dashboard or rule file is generated for, as
 * `app.resilienceMetrics.hub.capabilities()` lists them. A name without a
 * row or a rule group is left out, since other capabilities may register
 * on the hub; anything but a list of names is a mistake (a single name
 * would be read as a list of letters) and is refused, and so is another
 * spelling of a known name (`load-shedding`), which would otherwise leave
 * its rows and rules out without a word.
 */
export function assertCapabilityNames (value: unknown, where: string): asserts value is readonly string[] {
  if (!Array.isArray(value) || !value.every((name) => typeof name === 'string')) {
    throw new FRS_ERR_OPTION_INVALID(where, 'an array of capability names, as app.resilienceMetrics.hub.capabilities() lists them', describeValue(value))
  }
  for (const name of value as readonly string[]) {
    const meant = METRICS_CAPABILITIES.find((known) => known !== name && looseName(known) === looseName(name))
    if (meant !== undefined) throw new FRS_ERR_OPTION_INVALID(where, `capability names as app.resilienceMetrics.hub.capabilities() lists them ('${meant}')`, describeValue(name))
  }
}
