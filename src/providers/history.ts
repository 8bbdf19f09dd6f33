import type { Config } from '../config/types.js';
import { openHistoryStore, parseS3Location, type HistoryStore } from '../history/store.js';
import { createHistoryS3Client, s3HistoryObjects } from './aws/history.js';

/**
 * openHistory opens the history store at a directory or s3://bucket/prefix. The S3 client is built here, the one place
 * outside providers/aws that may reach it: region, endpoint and profile from the config's AWS provider when there is
 * one, else from the environment (AWS_REGION, AWS_ENDPOINT_URL, AWS_PROFILE).
 */
export function openHistory(location: string, config?: Pick<Config, 'provider'>): HistoryStore {
  if (!parseS3Location(location)) return openHistoryStore(location);
  const aws = config?.provider.type === 'aws' ? config.provider : undefined;
  return openHistoryStore(location, { s3: s3HistoryObjects(createHistoryS3Client({ region: aws?.region, endpoint: aws?.endpoint, profile: aws?.profile })) });
}
