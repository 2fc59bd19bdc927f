/*
 * Work deferred to the end of the current turn of the event loop, run
 * from one setImmediate shared by every caller: deadlines are armed there
 * and the loop-lag detector closes its turn there, so a turn that needs
 * both pays for one immediate (an allocation and an async context switch)
 * instead of two. Tasks run in the order they were deferred.
 */

let tasks: Array<() => void> = []
// Two arrays take turns, so running a batch allocates nothing.
let spare: Array<() => void> = []
let scheduled = false

/** Runs `task` once at the end of this turn (setImmediate), after the tasks deferred before it. */
export function atEndOfTurn (task: () => void): void {
  tasks.push(task)
  if (!scheduled) {
    scheduled = true
    setImmediate(runTasks)
  }
}

function runTasks (): void {
  const current = tasks
  tasks = spare
  spare = current
  scheduled = false
  let next = 0
  try {
    while (next < current.length) (current[next++] as () => void)()
  } finally {
    // A task threw (and its error goes on to the process as before): the
    // tasks after it still run, at the end of the next turn, so that no
    // turn is left open for the loop-lag detector.
    for (let i = next; i < current.length; i++) atEndOfTurn(current[i] as () => void)
    current.length = 0
  }
}
