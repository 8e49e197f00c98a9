/**
 * The money-receiving terminal (merchant side): orders with a dynamic EMV MPM QR,
 * pay-code charges, live results, the amount comparison module, receipts, refunds, and
 * the cashier's web page.
 */
export * from './amount-comparison';
export * from './cloud-client';
export * from './hid-scanner';
export * from './mpm';
export * from './mqtt-results';
export * from './ports';
export * from './receipt';
export * from './scanner';
export * from './server';
export * from './terminal';
