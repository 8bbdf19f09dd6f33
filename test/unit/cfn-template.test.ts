import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, type Tags, type YAMLMap, type YAMLSeq } from 'yaml';

/**
 * iam/member-account.yaml is the CloudFormation set-up of a member account. Its SnapdrillRole must grant exactly
 * the statements of iam/snapdrill-policy.json (which architecture.test.ts holds equal to the calls the code
 * makes), so these tests render the template's policy with the placeholders of that file and compare.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const text = readFileSync(path.join(ROOT, 'iam/member-account.yaml'), 'utf8');

type Json = any;

/** cfnTags turns CloudFormation's short forms (!Sub x) into the long ones ({'Fn::Sub': x}), in scalar, sequence and map form. */
const FUNCTIONS = ['Ref', 'Sub', 'GetAtt', 'If', 'Equals', 'Not', 'Select', 'GetAZs', 'Join', 'Split', 'And', 'Or', 'Cidr', 'Base64', 'FindInMap', 'ImportValue', 'Condition'];
const cfnTags: Tags = FUNCTIONS.flatMap((name) => {
  const key = name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`;
  const scalar = (v: string): Json => (name === 'GetAtt' ? { [key]: [v.slice(0, v.indexOf('.')), v.slice(v.indexOf('.') + 1)] } : { [key]: v });
  return [
    { tag: `!${name}`, resolve: (v: string) => scalar(v) },
    { tag: `!${name}`, collection: 'seq' as const, resolve: (v: YAMLSeq | YAMLMap) => ({ [key]: v.toJSON() }) },
    { tag: `!${name}`, collection: 'map' as const, resolve: (v: YAMLSeq | YAMLMap) => ({ [key]: v.toJSON() }) },
  ];
}) as Tags;

const template = parse(text, { customTags: cfnTags }) as Json;
const resources = template.Resources as Record<string, { Type: string; Condition?: string; Properties: Json }>;
const props = (id: string): Json => resources[id]!.Properties;

/** The placeholders of iam/snapdrill-policy.json and what the template puts in their place. */
const PLACEHOLDERS: Record<string, string> = {
  SsmOutputBucket: 'SSM-OUTPUT-BUCKET',
  HistoryBucket: 'HISTORY-BUCKET',
  HistoryPrefix: 'HISTORY-PREFIX',
  EvidenceKeyId: 'EVIDENCE-KEY-ID',
  SnsTopicName: 'SNS-TOPIC-NAME',
  EventBusName: 'EVENT-BUS-NAME',
  CloudWatchNamespace: 'CLOUDWATCH-NAMESPACE',
  'SnapdrillHelperRole.Arn': 'arn:aws:iam::*:role/snapdrill-helper*',
};
/** Each optional feature: its condition, and the statements that are dropped without it. */
const OPTIONAL: Record<string, string[]> = {
  HasSsmOutputBucket: ['ReadFullSsmOutputFromTheConfiguredBucket'],
  HasHistoryBucket: ['WriteAndReadRunHistory', 'ListRunHistory'],
  HasEvidenceKey: ['SignEvidencePacks'],
  HasSnsTopic: ['AlertOnTheConfiguredTopic'],
  HasEventBus: ['AlertOnTheConfiguredBus'],
  HasCloudWatchNamespace: ['PublishRunMetrics'],
};

const NO_VALUE = Symbol('AWS::NoValue');

/** render evaluates the intrinsic functions a policy uses, with values for Ref, GetAtt and the conditions. */
function render(node: Json, values: Record<string, string>, conditions: Record<string, boolean>): Json {
  const value = (name: string) => {
    if (!(name in values)) throw new Error(`no value for ${name}`);
    return values[name];
  };
  if (Array.isArray(node)) return node.map((n) => render(n, values, conditions)).filter((n) => n !== NO_VALUE);
  if (node === null || typeof node !== 'object') return node;
  const keys = Object.keys(node);
  if (keys.length === 1) {
    const [k] = keys as [string];
    const arg = node[k];
    if (k === 'Ref') return arg === 'AWS::NoValue' ? NO_VALUE : value(arg);
    if (k === 'Fn::GetAtt') return value(arg.join('.'));
    if (k === 'Fn::Sub') return (arg as string).replace(/\$\{([^}!]+)\}/g, (_, name: string) => value(name));
    if (k === 'Fn::If') {
      if (!(arg[0] in conditions)) throw new Error(`no value for condition ${arg[0]}`);
      return render(conditions[arg[0]] ? arg[1] : arg[2], values, conditions);
    }
    if (k.startsWith('Fn::')) throw new Error(`render does not know ${k}`);
  }
  return Object.fromEntries(
    Object.entries(node)
      .map(([k, v]) => [k, render(v, values, conditions)])
      .filter(([, v]) => v !== NO_VALUE),
  );
}

const all = (on: boolean) => Object.fromEntries(Object.keys(template.Conditions).map((c) => [c, on]));
const rolePolicy = (conditions: Record<string, boolean>): Json[] => {
  const policies = props('SnapdrillRole').Policies as Json[];
  expect(policies).toHaveLength(1);
  return render(policies[0].PolicyDocument, PLACEHOLDERS, conditions).Statement;
};
const shipped = JSON.parse(readFileSync(path.join(ROOT, 'iam/snapdrill-policy.json'), 'utf8')) as { Statement: Json[] };

/** every visits every node below node. */
function every(node: Json, visit: (n: Json) => void): void {
  visit(node);
  if (node && typeof node === 'object') for (const v of Object.values(node)) every(v, visit);
}

/** The names a template part refers to: Ref, GetAtt and ${...} of Sub. */
function referred(node: Json): string[] {
  const names: string[] = [];
  every(node, (n) => {
    if (!n || typeof n !== 'object' || Array.isArray(n)) return;
    if (typeof n.Ref === 'string') names.push(n.Ref);
    if (Array.isArray(n['Fn::GetAtt'])) names.push(n['Fn::GetAtt'][0]);
    const sub = n['Fn::Sub'];
    const [s, vars] = Array.isArray(sub) ? [sub[0], sub[1] ?? {}] : [sub, {}];
    if (typeof s === 'string') for (const m of s.matchAll(/\$\{([^}!]+)\}/g)) if (!(m[1]! in vars)) names.push(m[1]!.split('.')[0]!);
  });
  return names;
}

/** Every IAM statement the template grants, whichever conditions hold (both branches of each If are taken). */
function grantedStatements(): { where: string; statement: Json }[] {
  const out: { where: string; statement: Json }[] = [];
  for (const [id, r] of Object.entries(resources).filter(([, r]) => r.Type === 'AWS::IAM::Role')) {
    for (const on of [true, false]) {
      const policies = render(r.Properties.Policies ?? [], PLACEHOLDERS, all(on)) as Json[] | typeof NO_VALUE;
      if (policies !== NO_VALUE) for (const p of policies) for (const s of p.PolicyDocument.Statement) out.push({ where: `${id}/${p.PolicyName}/${s.Sid}`, statement: s });
    }
  }
  return out;
}
const list = (v: Json): Json[] => (Array.isArray(v) ? v : [v]);

describe('iam/member-account.yaml', () => {
  it('parses as CloudFormation with the resources snapdrill needs', () => {
    expect(template.AWSTemplateFormatVersion).toBe('2010-09-09');
    const types = Object.fromEntries(Object.entries(resources).map(([id, r]) => [id, r.Type]));
    expect(types).toMatchObject({
      SnapdrillRole: 'AWS::IAM::Role',
      SnapdrillHelperRole: 'AWS::IAM::Role',
      SnapdrillHelperInstanceProfile: 'AWS::IAM::InstanceProfile',
      QuarantineVpc: 'AWS::EC2::VPC',
      QuarantineSubnetA: 'AWS::EC2::Subnet',
      QuarantineSubnetB: 'AWS::EC2::Subnet',
      QuarantineRouteTable: 'AWS::EC2::RouteTable',
      QuarantineSsmEndpoint: 'AWS::EC2::VPCEndpoint',
      QuarantineSsmMessagesEndpoint: 'AWS::EC2::VPCEndpoint',
      QuarantineEc2MessagesEndpoint: 'AWS::EC2::VPCEndpoint',
      QuarantineS3Endpoint: 'AWS::EC2::VPCEndpoint',
      QuarantineEndpointSecurityGroup: 'AWS::EC2::SecurityGroup',
      QuarantineSecurityGroup: 'AWS::EC2::SecurityGroup',
    });
    expect(Object.keys(template.Outputs).sort()).toEqual(['HelperInstanceProfileName', 'QuarantineSecurityGroupId', 'QuarantineSubnetIds', 'SnapdrillRoleArn']);
  });

  it('grants SnapdrillRole exactly the statements of iam/snapdrill-policy.json, placeholders replaced by parameters', () => {
    expect(rolePolicy(all(true))).toEqual(shipped.Statement);
    // The placeholders themselves are not in the template: they come from parameters and resources.
    const values = JSON.stringify(template);
    expect([...Object.values(PLACEHOLDERS), 'snapdrill-helper*'].filter((p) => values.includes(p))).toEqual([]);
    expect(Object.keys(PLACEHOLDERS).filter((p) => !p.includes('.')).every((p) => p in template.Parameters)).toBe(true);
  });

  it('drops exactly the statements of an optional feature when its parameter is empty', () => {
    for (const [condition, sids] of Object.entries(OPTIONAL)) {
      const param = /^Fn::Not$/.test(Object.keys(template.Conditions[condition])[0]!) ? template.Conditions[condition]['Fn::Not'][0]['Fn::Equals'] : null;
      expect(param?.[1], condition).toBe('');
      const without = rolePolicy({ ...all(true), [condition]: false }).map((s) => s.Sid);
      expect(without, condition).toEqual(shipped.Statement.map((s) => s.Sid).filter((s) => !sids.includes(s)));
    }
    const minimal = rolePolicy(all(false)).map((s) => s.Sid);
    expect(minimal).toEqual(shipped.Statement.map((s) => s.Sid).filter((s) => !Object.values(OPTIONAL).flat().includes(s)));
    expect(minimal).toContain('PassTheHelperInstanceProfileRole');
  });

  it('passes only the helper role, whose name is inside the shipped policy pattern', () => {
    const pass = (props('SnapdrillRole').Policies[0].PolicyDocument.Statement as Json[]).find((s) => s.Sid === 'PassTheHelperInstanceProfileRole');
    expect(pass.Resource).toEqual({ 'Fn::GetAtt': ['SnapdrillHelperRole', 'Arn'] });
    expect(props('SnapdrillHelperRole').RoleName).toMatch(/^snapdrill-helper/);
  });

  it('lets only SnapdrillPrincipalArn assume SnapdrillRole, with the external id when one is given, for up to 12 hours', () => {
    const role = props('SnapdrillRole');
    expect(role.MaxSessionDuration).toBe(12 * 3600);
    expect(role.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: { AWS: { Ref: 'SnapdrillPrincipalArn' } },
        Action: 'sts:AssumeRole',
        Condition: { 'Fn::If': ['HasExternalId', { StringEquals: { 'sts:ExternalId': { Ref: 'ExternalId' } } }, { Ref: 'AWS::NoValue' }] },
      },
    ]);
    expect(template.Conditions.HasExternalId).toEqual({ 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'ExternalId' }, ''] }] });
  });

  it('gives the helpers the SSM agent and, with an output bucket, PutObject on its snapdrill/ prefix', () => {
    const helper = props('SnapdrillHelperRole');
    expect(helper.AssumeRolePolicyDocument.Statement).toEqual([{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }]);
    expect(helper.ManagedPolicyArns).toEqual([{ 'Fn::Sub': 'arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore' }]);
    const values = { SsmOutputBucket: 'SSM-OUTPUT-BUCKET' };
    expect(render(helper.Policies, values, { HasSsmOutputBucket: false })).toBe(NO_VALUE);
    const statements = render(helper.Policies, values, { HasSsmOutputBucket: true }).flatMap((p: Json) => p.PolicyDocument.Statement);
    const read = shipped.Statement.find((s) => s.Sid === 'ReadFullSsmOutputFromTheConfiguredBucket');
    expect(statements).toEqual([{ Sid: 'WriteFullSsmOutput', Effect: 'Allow', Action: ['s3:PutObject'], Resource: read.Resource }]);
    expect(props('SnapdrillHelperInstanceProfile').Roles).toEqual([{ Ref: 'SnapdrillHelperRole' }]);
  });

  it('grants no delete, detach, terminate or deregister on * or without the snapdrill:run-id tag condition, and no wildcard action', () => {
    const granted = grantedStatements();
    expect(granted.length).toBeGreaterThan(shipped.Statement.length);
    const destructive = granted.filter(({ statement }) => list(statement.Action).some((a: string) => /^[\w-]+:(Delete|Detach|Terminate|Deregister)/i.test(a)));
    expect(destructive.map((d) => d.where)).toEqual(expect.arrayContaining([expect.stringContaining('DeleteOnlyWhatSnapdrillCreated')]));
    const unsafe = destructive.filter(
      ({ statement }) => list(statement.Resource).some((r) => r === '*') || statement.Condition?.Null?.['aws:ResourceTag/snapdrill:run-id'] !== 'false',
    );
    expect(unsafe.map((u) => u.where)).toEqual([]);
    const wildcard = granted.filter(({ statement }) => list(statement.Action).some((a: string) => a === '*' || /^iam:\*/i.test(a) || a.includes('*')));
    expect(wildcard.map((w) => w.where)).toEqual([]);
    expect(granted.every(({ statement }) => statement.Effect === 'Allow' && !statement.NotAction && !statement.NotResource)).toBe(true);
  });

  it('builds an optional quarantine VPC: two private subnets in two zones, endpoints only, no way out', () => {
    expect(template.Conditions.CreateVpc).toEqual({ 'Fn::Equals': [{ Ref: 'CreateQuarantineVpc' }, 'true'] });
    expect(template.Parameters.CreateQuarantineVpc.AllowedValues).toEqual(['true', 'false']);
    const ec2 = Object.entries(resources).filter(([, r]) => r.Type.startsWith('AWS::EC2::'));
    expect(ec2.filter(([, r]) => r.Condition !== 'CreateVpc').map(([id]) => id)).toEqual([]);
    // No way to the internet or to other networks.
    const types = new Set(Object.values(resources).map((r) => r.Type));
    for (const t of ['InternetGateway', 'EgressOnlyInternetGateway', 'NatGateway', 'VPCGatewayAttachment', 'EIP', 'Route', 'VPCPeeringConnection', 'TransitGatewayAttachment', 'VPNGateway']) {
      expect(types.has(`AWS::EC2::${t}`), t).toBe(false);
    }
    expect(text).not.toMatch(/InternetGateway|NatGateway/);
    const azs = ['QuarantineSubnetA', 'QuarantineSubnetB'].map((id) => props(id).AvailabilityZone);
    expect(azs).toEqual([0, 1].map((i) => ({ 'Fn::Select': [i, { 'Fn::GetAZs': '' }] })));
    for (const id of ['QuarantineSubnetA', 'QuarantineSubnetB']) expect(props(id).MapPublicIpOnLaunch).toBe(false);
    const associated = Object.values(resources).filter((r) => r.Type === 'AWS::EC2::SubnetRouteTableAssociation');
    expect(associated.map((r) => r.Properties)).toEqual(['A', 'B'].map((x) => ({ SubnetId: { Ref: `QuarantineSubnet${x}` }, RouteTableId: { Ref: 'QuarantineRouteTable' } })));
    expect(props('QuarantineVpc')).toMatchObject({ EnableDnsSupport: true, EnableDnsHostnames: true });
  });

  it('reaches SSM through interface endpoints open to the VPC only on 443, and S3 through a gateway endpoint', () => {
    const vpcCidr = { 'Fn::GetAtt': ['QuarantineVpc', 'CidrBlock'] };
    const endpoints = Object.values(resources).filter((r) => r.Type === 'AWS::EC2::VPCEndpoint').map((r) => r.Properties);
    const service = (e: Json) => /\.([a-z0-9]+)$/.exec(e.ServiceName['Fn::Sub'])![1];
    const interfaces = endpoints.filter((e) => e.VpcEndpointType === 'Interface');
    expect(interfaces.map(service).sort()).toEqual(['ec2messages', 'ssm', 'ssmmessages']);
    for (const e of interfaces) {
      expect(e.ServiceName['Fn::Sub']).toBe(`com.amazonaws.\${AWS::Region}.${service(e)}`);
      expect(e).toMatchObject({ PrivateDnsEnabled: true, SubnetIds: [{ Ref: 'QuarantineSubnetA' }, { Ref: 'QuarantineSubnetB' }], SecurityGroupIds: [{ Ref: 'QuarantineEndpointSecurityGroup' }] });
    }
    expect(endpoints.filter((e) => e.VpcEndpointType === 'Gateway')).toEqual([
      { VpcId: { Ref: 'QuarantineVpc' }, ServiceName: { 'Fn::Sub': 'com.amazonaws.${AWS::Region}.s3' }, VpcEndpointType: 'Gateway', RouteTableIds: [{ Ref: 'QuarantineRouteTable' }] },
    ]);
    const https = { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, CidrIp: vpcCidr };
    const rules = (list?: Json[]) => (list ?? []).map(({ Description: _, ...rule }) => rule);
    expect(rules(props('QuarantineEndpointSecurityGroup').SecurityGroupIngress)).toEqual([https]);
  });

  it('gives helpers and boot tests a security group with no ingress and egress only to the VPC on 443', () => {
    const sg = props('QuarantineSecurityGroup');
    expect(sg.SecurityGroupIngress).toBeUndefined();
    expect(sg.SecurityGroupEgress.map(({ Description: _, ...rule }: Json) => rule)).toEqual([
      { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, CidrIp: { 'Fn::GetAtt': ['QuarantineVpc', 'CidrBlock'] } },
    ]);
    // No rule added beside it either.
    const extra = Object.values(resources).filter((r) => /^AWS::EC2::SecurityGroup(Ingress|Egress)$/.test(r.Type));
    expect(extra).toEqual([]);
    expect(template.Outputs.QuarantineSecurityGroupId.Value).toEqual({ 'Fn::GetAtt': ['QuarantineSecurityGroup', 'GroupId'] });
    expect(template.Outputs.QuarantineSubnetIds.Value).toEqual({ 'Fn::Join': [',', [{ Ref: 'QuarantineSubnetA' }, { Ref: 'QuarantineSubnetB' }]] });
  });

  it('uses every parameter and condition, refers only to what exists, and hard-codes no account or region (StackSets)', () => {
    const used = new Set(referred([template.Resources, template.Outputs, template.Conditions]));
    const parameters = Object.keys(template.Parameters);
    expect(parameters.filter((p) => !used.has(p))).toEqual([]);
    const known = new Set([...parameters, ...Object.keys(resources)]);
    expect([...used].filter((n) => !known.has(n) && !n.startsWith('AWS::'))).toEqual([]);
    const conditions = new Set<string>();
    every([template.Resources, template.Outputs, template.Conditions], (n) => {
      if (n && typeof n === 'object' && !Array.isArray(n)) {
        if (typeof n.Condition === 'string') conditions.add(n.Condition);
        if (Array.isArray(n['Fn::If'])) conditions.add(n['Fn::If'][0]);
      }
    });
    expect(Object.keys(template.Conditions).filter((c) => !conditions.has(c))).toEqual([]);
    expect([...conditions].filter((c) => !(c in template.Conditions))).toEqual([]);
    const hardCoded = [
      /\b\d{12}\b/g, // an account id
      /\b[a-z]{2}(-gov)?-(north|south|east|west|central|northeast|northwest|southeast|southwest)-\d[a-z]?\b/g, // a region or zone
      /\b(ami|vpc|subnet|sg|pl)-[0-9a-f]{8,17}\b/g, // ids of one account and region
    ];
    expect(hardCoded.flatMap((re) => [...text.matchAll(re)].map((m) => m[0]))).toEqual([]);
  });

  it('stays within the 10,240 characters IAM allows a role for its inline policies', () => {
    const size = JSON.stringify({ Version: '2012-10-17', Statement: rolePolicy(all(true)) }).replace(/\s/g, '').length;
    expect(size).toBeLessThan(10_240);
  });
});
