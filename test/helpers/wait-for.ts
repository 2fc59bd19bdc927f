/** Polls `condition` every 5 ms until it holds; throws when it still does not after `timeoutMs`. */
export async function waitFor (condition: () => boolean, timeoutMs = 2000): Promise<void> {
  for (let waited = 0; waited < timeoutMs && !condition(); waited += 5) await new Promise((resolve) => setTimeout(resolve, 5))
  if (!condition()) throw new Error(`the condition did not become true within ${timeoutMs} ms`)
}
