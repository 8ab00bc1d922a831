// Handing control back to the event loop between chunks of search work, in pages and in workers.

/** Resolves after the event loop ran a task (input, paint, a worker's messages), not just microtasks. */
export function yieldToEventLoop(): Promise<void> {
  if (typeof MessageChannel === 'function') {
    // unlike setTimeout, message tasks are not throttled to 1 s in background tabs
    return new Promise((resolve) => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => { ch.port1.close(); resolve(); };
      ch.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}
