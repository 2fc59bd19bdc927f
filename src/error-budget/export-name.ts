import { createHash } from 'node:crypto'
import { describeValue } from '../describe.js'
import { FRS_ERR_OPTION_INVALID } from '../errors.js'
import type { Objective } from './objective.js'

/*
 * OpenSLO names objects with RFC 1123 labels (at most 63 characters,
 * lowercase letters, digits and '-', a letter or digit at each end); Sloth
 * accepts letters, digits, '.', '_' and '-' with a letter or digit at each
 * end, at least two characters. A name valid for both is an RFC 1123 label
 * of two characters or more.
 */
const EXPORT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const MAX_LENGTH = 63

/**
 * The name of an indicator in the Sloth and OpenSLO exports: `<slo>-<sli>`
 * when that is already valid for both, else the SLO name lowercased, each
 * run of other characters turned into '-', followed by 8 hex digits of the
 * SHA-256 of the SLO name (so that names differing only by case or
 * punctuation stay apart) and the indicator, shortened to 63 characters.
 */
export function exportName (objective: Objective): string {
  const plain = `${objective.name}-${objective.sli}`
  if (plain.length <= MAX_LENGTH && EXPORT_NAME.test(plain)) return plain
  const hash = createHash('sha256').update(objective.name).digest('hex').slice(0, 8)
  const suffix = `${hash}-${objective.sli}`
  const stem = objective.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, MAX_LENGTH - suffix.length - 1).replace(/^-+|-+$/g, '')
  return stem === '' ? suffix : `${stem}-${suffix}`
}

/**
 * Checks the service an export is written for: both formats carry it as a
 * name (OpenSLO's Service object, Sloth's service), so it must be valid for
 * both; it is the caller's own text, so it is refused rather than changed.
 * @throws FRS_ERR_OPTION_INVALID naming what is expected
 */
export function assertServiceName (service: unknown): asserts service is string {
  if (typeof service !== 'string' || service.length < 2 || service.length > MAX_LENGTH || !EXPORT_NAME.test(service)) {
    throw new FRS_ERR_OPTION_INVALID('service', 'an RFC 1123 label of 2 to 63 characters (lowercase letters, digits and -, a letter or digit at each end), as OpenSLO and Sloth require', describeValue(service))
  }
}
