import { InfraError } from '../errors.js';
import { compiledSchema, describeSchemaErrors } from '../util/schema.js';
import type { RunReport } from './types.js';

/** renderJsonReport validates the report against schemas/report.schema.json and renders it; an invalid report is a harness bug and never written. */
export function renderJsonReport(report: RunReport): string {
  const validate = compiledSchema('report.schema.json');
  if (!validate(report)) {
    const issues = describeSchemaErrors(validate.errors);
    throw new InfraError('report-invalid', `internal error: the report does not match its schema: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, {
      remedy: 'please file a bug with this message',
    });
  }
  return `${JSON.stringify(report, null, 2)}\n`;
}
