/**
 * The same string, made flat. V8 keeps a string built by concatenation as
 * a tree of its parts until something reads it; kept for thousands of
 * requests (a key and a fingerprint in the memory store), that tree costs
 * the collector more than one flat string does. Reading a character makes
 * it flat.
 */
export function flatten (text: string): string {
  text.charCodeAt(0)
  return text
}
