/**
 * The terminal's {@link MpmEncoder} over the wire contract's EMV MPM builder
 * (`protocol/emv` `buildMpm`): a dynamic code (01 = "12") with the amount in 54 in the
 * currency's exponent, 53 the ISO 4217 numeric code, our merchant account template
 * 26 (GUI `io.handset.pay`, 01 merchant id, 02 order reference), 62-05 the order
 * reference, 62-07 the terminal label, 63 the CRC. `buildMpm` re-parses what it built
 * and refuses anything with an error-severity problem (typed `MpmBuildError`/`EmvError`).
 */

import { buildMpm } from '../protocol/emv/build';
import type { MpmEncoder } from './ports';

export const protocolMpmEncoder: MpmEncoder = {
  encodeDynamic({ merchant, amount, reference }) {
    return buildMpm({
      merchantName: merchant.name,
      merchantCity: merchant.city,
      mcc: merchant.mcc,
      country: merchant.country,
      currency: amount.currency,
      amount: amount.minor,
      initiation: 'dynamic',
      merchantId: merchant.id,
      reference,
      additional: merchant.terminalLabel ? { '07': merchant.terminalLabel } : undefined,
    });
  },
};
