/*
 * Work deferred to the end of the current turn of the event loop, run
 * from one setImmediate shared by every caller: deadlines are armed there
 * and the loop-lag detector closes its turn there, so a turn that needs
 * both pays for one immediate (an allocation and an async context switch)
 * instead of two. Tasks run in the order they were deferred.
 */

type Task = () => void

let tasks: Array<Task | undefined> = []
let count = 0
// Two arrays take turns and are never shortened: setting an array's
// length to 0 drops its backing store, which the next turn would grow
// again. Slots are cleared instead, so no task outlives its turn.
let spare: Array<Task | undefined> = []
let scheduled = false

/** Runs `task` once at the end of this turn (setImmediate), after the tasks deferred before it. */
export function atEndOfTurn (task: Task): void {
  tasks[count++] = task
  if (!scheduled) {
    scheduled = true
    setImmediate(runTasks)
  }
}

function runTasks (): void {
  const current = tasks
  const length = count
  tasks = spare
  spare = current
  count = 0
  scheduled = false
  let next = 0
  try {
    while (next < length) {
      const task = current[next] as Task
      current[next++] = undefined
      task()
    }
  } finally {
    // A task threw (and its error goes on to the process as before): the
    // tasks after it still run, at the end of the next turn, so that no
    // turn is left open for the loop-lag detector.
    for (let i = next; i < length; i++) {
      atEndOfTurn(current[i] as Task)
      current[i] = undefined
    }
  }
}
