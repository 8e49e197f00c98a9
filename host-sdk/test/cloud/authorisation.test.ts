import { describeAuthorisationSuite } from './authorisation-suite';
import { STORE_KINDS } from './fixtures';

for (const kind of STORE_KINDS) describeAuthorisationSuite(kind, 'direct');
