import { DescribeSecurityGroupsCommand, DescribeSubnetsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { InfraError } from '../../errors.js';
import { awsError } from './ec2.js';

/** QUARANTINE_TAG marks the subnet and security group helpers may use (iam/member-account.yaml's quarantine VPC). */
export const QUARANTINE_TAG = 'snapdrill:quarantine';

/** QuarantineNetwork is where a fleet item's helpers run in one account and region. */
export interface QuarantineNetwork {
  subnetId: string;
  securityGroupIds: string[];
  availabilityZone: string;
}

/** missing is the refusal to launch helpers when the tagged network is not there: nothing falls back to the default network. */
function missing(what: string, where: string): InfraError {
  return new InfraError('quarantine-network-missing', `refusing to launch helpers in ${where}: ${what} (provider.helper.findNetwork finds the helpers' network by that tag)`, {
    remedy: `deploy iam/member-account.yaml with its quarantine VPC in that account and region (it tags the subnets and the security group), or tag a quarantine subnet and security group ${QUARANTINE_TAG}=true yourself`,
  });
}

/**
 * findQuarantineNetwork finds the subnet and security group tagged snapdrill:quarantine=true in the account and region
 * of the client: the first subnet by zone then id, and the tagged groups of its VPC. None found refuses the item
 * before anything is created, naming the tag.
 */
export async function findQuarantineNetwork(ec2: EC2Client, where: string): Promise<QuarantineNetwork> {
  const filters = [{ Name: `tag:${QUARANTINE_TAG}`, Values: ['true'] }];
  let subnets;
  try {
    subnets = (await ec2.send(new DescribeSubnetsCommand({ Filters: filters }))).Subnets ?? [];
  } catch (e) {
    throw awsError(e, where);
  }
  const subnet = subnets.filter((s) => s.SubnetId && s.AvailabilityZone).sort((a, b) => a.AvailabilityZone!.localeCompare(b.AvailabilityZone!) || a.SubnetId!.localeCompare(b.SubnetId!))[0];
  if (!subnet) throw missing(`no subnet tagged ${QUARANTINE_TAG}=true`, where);
  let groups;
  try {
    groups = (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [...filters, { Name: 'vpc-id', Values: [subnet.VpcId!] }] }))).SecurityGroups ?? [];
  } catch (e) {
    throw awsError(e, where);
  }
  const ids = groups.map((g) => g.GroupId!).sort();
  if (!ids.length) throw missing(`no security group tagged ${QUARANTINE_TAG}=true in ${subnet.VpcId}, the VPC of the tagged subnet ${subnet.SubnetId}`, where);
  return { subnetId: subnet.SubnetId!, securityGroupIds: ids, availabilityZone: subnet.AvailabilityZone! };
}
