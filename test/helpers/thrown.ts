/** What a call threw, or undefined when it returned: for assertions on the error itself. */
export function thrownBy (run: () => unknown): { code?: string, message: string } | undefined {
  try {
    run()
  } catch (error) {
    return error as { code?: string, message: string }
  }
  return undefined
}

/** What an option error's message says is expected and was received: the part after the option's name. */
export function expectation (message: string): string {
  return message.replace(/^fastify-resilience: option '[^']*' /, '')
}
