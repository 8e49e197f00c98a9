/**
 * @handset/schematics: the handset's board description (`handset.board.json`), its
 * validator, the firmware's pin accessor and the generators for wiring.svg, pinout.md
 * and bom.csv.
 */
export * from './board';
export * from './errors';
export * from './generate';
export * from './netlist';
export * from './pins';
export * from './reference';
export * from './validate';
