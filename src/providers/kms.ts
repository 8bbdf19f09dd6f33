/**
 * The KMS calls of signed evidence packs, for the CLI and the run: built here so that nothing outside src/providers
 * reaches providers/aws (test/unit/architecture.test.ts).
 */
export { createKmsApi, type KmsOptions } from './aws/kms.js';
