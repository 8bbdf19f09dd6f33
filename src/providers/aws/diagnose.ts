import type { AwsProviderConfig } from '../../config/types.js';
import { ConfigError, InfraError } from '../../errors.js';
import type { ConsoleCapture } from '../../provider.js';
import { awsError, type Ec2Api } from './ec2.js';

/** fetchInstanceConsole fetches an instance's latest console output (and its screenshot when EC2 gives one) for `snapdrill diagnose --instance`. */
export async function fetchInstanceConsole(cfg: AwsProviderConfig, instanceId: string, api: Ec2Api): Promise<ConsoleCapture> {
  let text: string;
  try {
    text = await api.getConsoleOutput(instanceId);
  } catch (e) {
    if (/^InvalidInstanceID\./.test((e as { name?: string }).name ?? '')) throw new ConfigError('--instance', `instance ${instanceId} does not exist in ${cfg.region}`, 'check the id and the region (provider.region)');
    throw awsError(e, 'GetConsoleOutput');
  }
  if (!text.trim()) {
    throw new InfraError('console-empty', `instance ${instanceId} has no console output yet`, { remedy: 'EC2 keeps the output of the latest boot; wait a few minutes after a (re)start and try again', transient: true });
  }
  // The screenshot shows what the serial console cannot (a graphical prompt, Windows); not every instance type has one.
  let shot = '';
  try {
    shot = await api.getConsoleScreenshot(instanceId);
  } catch {
    shot = '';
  }
  return { source: instanceId, text, ...(shot ? { screenshotJpegBase64: shot } : {}) };
}
