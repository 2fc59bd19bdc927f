/** A value that {@link toYaml} can write. */
export type YamlValue = string | number | boolean | YamlValue[] | { [key: string]: YamlValue }

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/

function scalar (value: string | number | boolean): string {
  // A JSON string is a valid YAML double-quoted scalar.
  return typeof value === 'string' ? JSON.stringify(value) : String(value)
}

function key (name: string): string {
  return PLAIN_KEY.test(name) ? name : JSON.stringify(name)
}

function lines (value: YamlValue, indent: string): string[] {
  if (Array.isArray(value)) {
    if (value.length === 0) return [`${indent}[]`]
    return value.flatMap((item) => {
      const [first = '', ...rest] = lines(item, `${indent}  `)
      return [`${indent}- ${first.trimStart()}`, ...rest]
    })
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value)
    if (entries.length === 0) return [`${indent}{}`]
    return entries.flatMap(([name, item]) => {
      if (typeof item === 'object' && (Array.isArray(item) ? item.length > 0 : Object.keys(item).length > 0)) {
        return [`${indent}${key(name)}:`, ...lines(item, `${indent}  `)]
      }
      return [`${indent}${key(name)}: ${lines(item, '')[0] ?? ''}`]
    })
  }
  return [`${indent}${scalar(value)}`]
}

/** Writes plain data as block-style YAML, every string quoted. */
export function toYaml (value: YamlValue): string {
  return `${lines(value, '').join('\n')}\n`
}
