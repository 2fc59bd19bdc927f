/**
 * Polls `condition` every 5 ms until it holds; throws when it still does
 * not after `timeoutMs`. The limit only guards against a hang: a condition
 * that holds returns at once, so it is set long enough for a machine
 * whose cores are busy with other work, and short of the tests' 20 s.
 */
export async function waitFor (condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  for (let waited = 0; waited < timeoutMs && !condition(); waited += 5) await new Promise((resolve) => setTimeout(resolve, 5))
  if (!condition()) throw new Error(`the condition did not become true within ${timeoutMs} ms`)
}
