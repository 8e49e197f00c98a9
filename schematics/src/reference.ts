import referenceJson from '../handset.board.json' with { type: 'json' };
import type { Board } from './board';
import { validateBoard } from './validate';

/**
 * The reference board as bundled into the importing program (no file system access):
 * what a firmware bundle uses when it ships without the schematics folder. Validated on
 * every call; throws `BoardError` if the bundled copy is broken.
 */
export function referenceBoard(): Board {
  return validateBoard(structuredClone(referenceJson), 'handset.board.json (bundled)');
}
