import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SNSClient } from '@aws-sdk/client-sns';
import type { Config } from '../config/types.js';
import type { NotifyDeps } from './index.js';

/**
 * notifyClients builds the clients of the AWS channels the config names, and only those: the region is notify.region,
 * else the AWS provider's, else the environment's (AWS_REGION); the endpoint is notify.endpoint, else the SDK's own
 * (AWS_ENDPOINT_URL). An SNS topic or EventBridge bus ARN names its own region.
 */
export function notifyClients(config: Pick<Config, 'notify' | 'provider'>): Omit<NotifyDeps, 'log'> {
  const n = config.notify;
  const aws = config.provider.type === 'aws' ? config.provider : undefined;
  const region = (arn?: string) => /^arn:[^:]+:[^:]+:([^:]+):/.exec(arn ?? '')?.[1] || n.region || aws?.region || process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION;
  const opts = (arn?: string) => {
    const r = region(arn);
    return { ...(r ? { region: r } : {}), ...(n.endpoint ? { endpoint: n.endpoint } : {}) };
  };
  return {
    ...(n.sns ? { sns: new SNSClient(opts(n.sns.topicArn)) } : {}),
    ...(n.eventBridge ? { eventBridge: new EventBridgeClient(opts(n.eventBridge.busName?.startsWith('arn:') ? n.eventBridge.busName : undefined)) } : {}),
    ...(n.cloudwatch ? { cloudwatch: new CloudWatchClient(opts()) } : {}),
  };
}
