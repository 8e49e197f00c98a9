import { ensureCliBuilt } from './built-cli';

/** vitest global setup: the built CLI is current before any end-to-end test spawns it. */
export default function setup(): void {
  ensureCliBuilt();
}
