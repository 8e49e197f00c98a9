/** The fleet simulation: deterministic, seeded worlds of handsets, merchants and one cloud, checked against DESIGN.md section 9. */
export * from './faults';
export * from './fleet';
export * from './network';
export * from './planted';
export * from './prng';
