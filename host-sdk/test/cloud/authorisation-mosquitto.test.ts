import { describeAuthorisationSuite } from './authorisation-suite';
import { STORE_KINDS } from './fixtures';

// the whole scenario suite with two CloudCenter workers on the real Mosquitto ($share subscriptions)
for (const kind of STORE_KINDS) describeAuthorisationSuite(kind, 'mosquitto-2-workers');
