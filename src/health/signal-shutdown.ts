import process from 'node:process'

/** What a signal does to one app that asked to be closed by signals. */
export interface SignalParticipant {
  /** The signals that shut the process down for this app. */
  signals: readonly NodeJS.Signals[]
  /** Closes the app; its promise settles once it has closed. */
  close: () => Promise<void>
  /** How long the close may take before the process exits anyway, with 1. */
  boundMs: number
  /** Told that a signal arrived, that the close failed, or that it ran past its bound. */
  onSignal: (signal: NodeJS.Signals) => void
  onCloseFailed: (error: unknown) => void
  onBoundPassed: () => void
}

/*
 * One listener per signal for the whole process, shared by every app that
 * asked for signals. With a listener per app, the first app to close
 * exited the process, resetting the requests another app (an admin or
 * metrics server beside the public one) still had in flight, and that
 * app's onClose hooks (keys released, counters flushed) never ran. A
 * signal now closes every such app together, and the process exits once
 * all have closed: with 0, or with 1 when a close failed or ran past its
 * bound.
 */
const participants = new Set<SignalParticipant>()
const listening = new Set<NodeJS.Signals>()
let shuttingDown = false

function onSignal (signal: NodeJS.Signals): void {
  if (shuttingDown) return
  shuttingDown = true
  stopListening()
  const closing = [...participants]
  // Not unref'd: a close stuck on a promise that holds nothing open would
  // otherwise let the process end by itself, with 0, as if it had closed.
  const bound = setTimeout(() => {
    for (const participant of closing) participant.onBoundPassed()
    process.exit(1)
  }, Math.max(...closing.map((participant) => participant.boundMs)))
  let failed = false
  const closes = closing.map(async (participant) => {
    participant.onSignal(signal)
    try {
      await participant.close()
    } catch (error) {
      failed = true
      participant.onCloseFailed(error)
    }
  })
  // Each close catches its own failure: the second handler never runs.
  Promise.all(closes).then(() => {
    clearTimeout(bound)
    process.exit(failed ? 1 : 0)
  }, () => {})
}

function stopListening (): void {
  for (const signal of listening) process.removeListener(signal, onSignal)
  listening.clear()
}

/**
 * Closes `participant`'s app, with every other participant's, on the
 * first of its signals, then exits the process. Returns the function that
 * takes it out again, called once its app has closed by itself.
 */
export function closeOnSignals (participant: SignalParticipant): () => void {
  participants.add(participant)
  for (const signal of participant.signals) {
    if (listening.has(signal)) continue
    listening.add(signal)
    process.on(signal, onSignal)
  }
  return () => {
    if (shuttingDown || !participants.delete(participant)) return
    // The signals no remaining app asked for go back to their default.
    const wanted = new Set([...participants].flatMap((remaining) => remaining.signals))
    for (const signal of listening) {
      if (wanted.has(signal)) continue
      process.removeListener(signal, onSignal)
      listening.delete(signal)
    }
  }
}
