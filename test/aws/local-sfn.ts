/**
 * Running the fleet workflow (src/fleet/workflow.ts) in aws-local-stepfunctions. That engine has two gaps this file
 * bridges, honestly named:
 *
 *  - it ignores a Map's ItemReader (and ResultWriter): forLocalEngine rewrites the definition so that a Task state
 *    "ReadItems", inserted before each Map with an ItemReader, reads the items (its local handler gets the reader's
 *    evaluated Bucket and Key, and reads S3 or a stub) into $.localItems, and the Map takes them by ItemsPath. The
 *    ResultWriter (results to S3) is replaced by ResultPath $.localMapResults: the results stay in the state, where a
 *    test reads them (the VerifyItems StateExited event; the engine's Map iteration events can arrive after the end).
 *    Everything else is the generated definition.
 *  - it has no ECS: ecsRunTaskSync turns a local function (the container: args in, exit code out) into the
 *    behaviour of the optimized ecs:runTask.sync integration: exit 0 returns the task description; a non-zero exit
 *    fails the state with States.TaskFailed whose Cause is the task description as JSON (StopCode
 *    EssentialContainerExited, Containers[0].ExitCode), which is what the workflow's Choices read.
 *
 * The engine also fails the whole Map when any item fails (it ignores ToleratedFailurePercentage): the generated
 * item processor catches everything itself, so an item never fails.
 */

/** Definition is an ASL definition (JSON object). */
export type Definition = { StartAt: string; States: Record<string, Record<string, unknown>> } & Record<string, unknown>;

/** READ_ITEMS is the name of the inserted state that stands in for an ItemReader. */
export const READ_ITEMS = 'ReadItems';

/**
 * forLocalEngine returns a copy of `definition` that aws-local-stepfunctions can run: each Map with an ItemReader
 * gets a "ReadItems" Task before it (Parameters: the reader's Parameters; result at $.localItems) and reads
 * $.localItems by ItemsPath; ItemReader is removed, ResultWriter becomes ResultPath $.localMapResults. Only one such Map is supported
 * (the state name must be unique).
 */
export function forLocalEngine(definition: Definition): Definition {
  const def = structuredClone(definition);
  const states = def.States;
  const maps = Object.entries(states).filter(([, s]) => s.Type === 'Map' && s.ItemReader);
  if (maps.length > 1) throw new Error('forLocalEngine: more than one Map with an ItemReader');
  for (const [name, map] of maps) {
    const reader = map.ItemReader as { Parameters: Record<string, unknown> };
    const reading = { Type: 'Task', Resource: 'arn:aws:states:::s3:getObject', Parameters: reader.Parameters, ResultPath: '$.localItems', Next: name };
    delete map.ItemReader;
    if (map.ResultWriter) {
      delete map.ResultWriter;
      map.ResultPath = '$.localMapResults';
    }
    map.ItemsPath = '$.localItems';
    for (const s of Object.values(states)) if (s.Next === name) s.Next = READ_ITEMS;
    if (def.StartAt === name) def.StartAt = READ_ITEMS;
    for (const s of Object.values(states)) {
      for (const c of [...((s.Catch as { Next: string }[]) ?? []), ...((s.Choices as { Next: string }[]) ?? [])]) if (c.Next === name) c.Next = READ_ITEMS;
    }
    states[READ_ITEMS] = reading;
  }
  return def;
}

/** RunTaskParameters are the evaluated Parameters of an ecs:runTask.sync state (what the handler receives). */
export interface RunTaskParameters {
  Cluster: string;
  TaskDefinition: string;
  LaunchType: string;
  NetworkConfiguration: { AwsvpcConfiguration: { Subnets: string[]; SecurityGroups: string[]; AssignPublicIp: string } };
  Overrides: { ContainerOverrides: { Name: string; Command: string[] }[] };
}

/** Container is what a local stand-in of the container does with the command: an exit code (null: it never ran). */
export type Container = (command: string[], params: RunTaskParameters) => Promise<number | null>;

/** TaskFailed is the error runTask.sync fails a state with when the task stops badly; Cause is the task description. */
class TaskFailed extends Error {
  constructor(cause: string) {
    super(cause);
    this.name = 'States.TaskFailed';
  }
}

/** ecsRunTaskSync is a local handler for an ecs:runTask.sync state, running `container` (see the file comment). */
export function ecsRunTaskSync(container: Container): (input: RunTaskParameters) => Promise<unknown> {
  return async (params) => {
    const override = params.Overrides.ContainerOverrides[0]!;
    const exitCode = await container(override.Command, params);
    const task = {
      ClusterArn: params.Cluster,
      TaskDefinitionArn: params.TaskDefinition,
      LastStatus: 'STOPPED',
      StopCode: exitCode === null ? 'TaskFailedToStart' : 'EssentialContainerExited',
      StoppedReason: exitCode === null ? 'CannotPullContainerError: stand-in' : 'Essential container in task exited',
      Containers: [{ Name: override.Name, LastStatus: 'STOPPED', ...(exitCode === null ? {} : { ExitCode: exitCode }) }],
      Overrides: params.Overrides,
    };
    if (exitCode !== 0) throw new TaskFailed(JSON.stringify(task));
    return task;
  };
}

/** awsError is an error of an AWS service integration as the workflow sees it, e.g. awsError('ECS.AmazonECSException', 'Capacity is unavailable'). */
export function awsError(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

// aws-local-stepfunctions 3 needs Node 22 (its Task timeout uses Promise.withResolvers); the project supports Node 20.
if (!('withResolvers' in Promise)) {
  Object.assign(Promise, {
    withResolvers<T>() {
      let resolve!: (v: T) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
      return { promise, resolve, reject };
    },
  });
}
