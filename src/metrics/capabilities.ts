import { describeValue } from '../describe.js'
import { FRS_ERR_OPTION_INVALID } from '../errors.js'

/**
 * Checks the capabilities a dashboard or rule file is generated for, as
 * `app.resilienceMetrics.hub.capabilities()` lists them. A name without a
 * row or a rule group is left out, since other capabilities may register
 * on the hub; anything but a list of names is a mistake (a single name
 * would be read as a list of letters) and is refused.
 */
export function assertCapabilityNames (value: unknown, where: string): asserts value is readonly string[] {
  if (!Array.isArray(value) || !value.every((name) => typeof name === 'string')) {
    throw new FRS_ERR_OPTION_INVALID(where, 'an array of capability names, as app.resilienceMetrics.hub.capabilities() lists them', describeValue(value))
  }
}
