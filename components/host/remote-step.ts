import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import { createHash } from "node:crypto";
import { connectionFor, type ResolvedHost } from "./host.js";
import { loadScript } from "./scripts.js";

export interface RemoteStepArgs {
  /** The host to run on (validated, defaults applied: see `resolveHost`). */
  host: ResolvedHost;
  /** Script path under `components/`, e.g. `base/apt-sources.sh` (or `parts`). */
  script?: string;
  /**
   * Several scripts run in order in one SSH session, instead of `script`: each part runs
   * only when the host has not yet applied its exact script and parameters (recorded per
   * part under /var/lib/debvisor/parts/<step>/), so a changed parameter runs its own part
   * and no other. A layer is one step, not one per script (see README, Benchmarks).
   */
  parts?: StepPart[];
  /**
   * With `parts`: the folder under /var/lib/debvisor/parts/ where the host records them,
   * unique among the node's steps (e.g. the layer's name). @default the step's name
   */
  partsRecord?: string;
  /** Parameters, exported as shell variables before the script runs. Names: `DV_[A-Z0-9_]+`. */
  params?: Record<string, string>;
  /** Secret parameters: like `params`, but the whole payload and all output become secrets. */
  secretParams?: Record<string, pulumi.Input<string>>;
  /**
   * What the script prints is secret (it reports generated keys): stdout and stderr are
   * secret outputs and the provider logs nothing of them. @default false (true with `secretParams`)
   */
  secretOutput?: boolean;
  /**
   * With secret output: still show the script's stderr (progress, and the reason when it
   * fails). Only for scripts that print no secret there. @default false (nothing shown)
   */
  showStderr?: boolean;
  /** Seconds before the step is killed. @default 900 */
  timeoutSeconds?: number;
  /**
   * Also run the script when the step is deleted (`pulumi destroy`, or the resource
   * leaving the program), with `DV_OP=delete`; it runs with the parameters of its last
   * successful run. Scripts read `${DV_OP:-apply}`. When the step is replaced (new trigger),
   * the old step's delete is skipped: see `renderCommand`. @default false (nothing runs on delete)
   */
  runOnDelete?: boolean;
}

const PARAM_NAME = /^DV_[A-Z0-9_]+$/;

/** One script of a multi-part step. */
export interface StepPart extends StepSpec {
  /** Part name, unique in its step: the host's record and log lines name it. */
  name: string;
  /** Run each time the step runs, applied before or not (a part that reports facts). @default false */
  always?: boolean;
}

/** Where multi-part steps record the parts they applied. */
export const PART_RECORDS = "/var/lib/debvisor/parts";

/** What a part would do, hashed: its script and parameters. */
export function partHash(part: StepSpec): string {
  let byScript = partHashes.get(part.params);
  if (!byScript) partHashes.set(part.params, (byScript = new Map()));
  let h = byScript.get(part.script);
  if (h === undefined) byScript.set(part.script, (h = createHash("sha256").update(JSON.stringify({ script: loadScript(part.script), params: sortKeys(part.params) })).digest("hex").slice(0, 32)));
  return h;
}
const partHashes = new WeakMap<object, Map<string, string>>();

/**
 * The text the host runs for a multi-part step: strict mode, the shared prelude, then each
 * part in a subshell of its own (its parameters and script), skipped when the host's record
 * shows it applied that exact part already. A failing part stops the step (set -e) before
 * its record is written, so the next run starts there.
 */
export function renderPartsPayload(stepName: string, parts: readonly StepPart[]): string {
  const key = JSON.stringify([stepName, parts.map((p) => [p.name, partHash(p), p.always ?? false])]);
  let text = partsPayloads.get(key);
  if (text === undefined) partsPayloads.set(key, (text = renderPartsText(stepName, parts)));
  return text;
}
/** Equal multi-part payloads (the same layer with the same settings on many nodes) are one string. */
const partsPayloads = new Map<string, string>();

function renderPartsText(stepName: string, parts: readonly StepPart[]): string {
  const names = new Set<string>();
  for (const p of parts) {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(p.name) || names.has(p.name)) throw new Error(`step ${stepName}: part names must be unique lower-case words, got ${JSON.stringify(p.name)}`);
    names.add(p.name);
  }
  const dir = shellQuote(`${PART_RECORDS}/${stepName}`);
  const log = (what: string) => `logger -t debvisor -- "part ${stepName}/$1 ${what}" 2>/dev/null || true`;
  const out = [
    "#!/bin/bash", "set -euo pipefail", loadScript("host/lib.sh"),
    `# --- parts of ${stepName}: each applied once per content; the host records what it applied`,
    `dv_parts=${dir}`,
    'mkdir -p "$dv_parts"',
    `dv_part_due() { if [ "$(cat "$dv_parts/$1" 2>/dev/null)" = "$2" ]; then ${log("skipped: applied already")}; return 1; fi; ${log("start")}; }`,
    `dv_part_done() { printf '%s\\n' "$2" >"$dv_parts/$1"; }`,
  ];
  for (const p of parts) {
    const hash = partHash(p);
    const body = ["(", `${renderParams(p.params)}${loadScript(p.script)}`, ")"].join("\n");
    out.push(`# --- part ${p.name}: ${p.script}`);
    out.push(p.always ? [body, `dv_part_done ${p.name} ${hash}`].join("\n") : [`if dv_part_due ${p.name} ${hash}; then`, body, `dv_part_done ${p.name} ${hash}`, "fi"].join("\n"));
  }
  return `${out.join("\n")}\n`;
}

/** Trigger of a multi-part step: changes exactly when a part, their order, the prelude or the timeout changes. */
export function partsTrigger(parts: readonly StepPart[], timeoutSeconds: number): string {
  return createHash("sha256").update(JSON.stringify({ prelude: loadScript("host/lib.sh"), parts: parts.map((p) => [p.name, partHash(p), p.always ?? false]), timeoutSeconds })).digest("hex");
}

/**
 * A step script with its parameters, as a typed builder returns it: each script has one
 * builder (`components/<layer>/steps.ts` or beside its component), used by the component
 * and by the script tier; a unit test checks that the DV_ names a builder produces are
 * exactly the ones its script reads.
 */
export interface StepSpec<K extends string = string> {
  /** Script path under `components/`. */
  script: string;
  params: Record<K, string>;
}

/** Typed constructor of a StepSpec. */
export function stepSpec<K extends string>(script: string, params: Record<K, string>): StepSpec<K> {
  return { script, params };
}

/**
 * POSIX single quoting: the only character that needs care inside '...' is ' itself.
 * (shell-quote was tried first: for a value holding both ' and ! it emits "...\!...",
 * and bash keeps that backslash.)
 */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Renders `export NAME='value'` lines. */
export function renderParams(params: Record<string, string>): string {
  return Object.keys(params)
    .sort()
    .map((k) => {
      if (!PARAM_NAME.test(k)) throw new Error(`step parameter ${JSON.stringify(k)}: names must match ${PARAM_NAME}`);
      // A value is literal text: shellcheck's "won't expand in single quotes" is moot.
      const directive = /[$`]/.test(params[k]) ? "# shellcheck disable=SC2016\n" : "";
      return `${directive}export ${k}=${shellQuote(params[k])}\n`;
    })
    .join("");
}

/** The text the host runs: strict mode, parameters, the shared prelude, the script. */
export function renderPayload(script: string, params: Record<string, string>): string {
  return `#!/bin/bash\nset -euo pipefail\n${renderParams(params)}${loadScript("host/lib.sh")}\n# --- ${script}\n${loadScript(script)}`;
}

/**
 * The command line sent over SSH. It names no parameter and holds no secret: the payload
 * arrives on stdin, is stored in a root-only file (so commands in the script cannot eat
 * it from stdin) and runs under `timeout`.
 *
 * `op: "delete"` runs the same payload with DV_OP=delete. A step that runs on delete
 * passes its `trigger`: each successful apply records it in /var/lib/debvisor/steps/<step>.
 * When Pulumi replaces such a step (its trigger changed), it creates the new one first
 * and then deletes the old one, and that old delete must not undo what the new one just
 * did: a delete whose trigger is not the one applied last is skipped. With no record
 * (a host set up before records existed) it runs.
 */
export function renderCommand(user: string, timeoutSeconds: number, stepName: string, op: "apply" | "delete" = "apply", trigger?: string): string {
  const record = shellQuote(`${STEP_RECORDS}/${stepName}`);
  // Each run is logged to the host's journal (tag debvisor), so "which steps ran" can
  // be read on the host.
  const log = (what: string) => `logger -t debvisor -- ${shellQuote(`step ${stepName} ${what}`)} 2>/dev/null || true; `;
  const run = `DV_OP=${op} timeout --kill-after=15 ${timeoutSeconds} bash "$f" </dev/null`;
  let inner = 'umask 077; f=$(mktemp /run/debvisor-step.XXXXXX); trap \'rm -f "$f"\' EXIT; cat >"$f"; ';
  if (op === "apply") {
    inner += log("start") + run;
    if (trigger !== undefined) inner += ` || exit $?; mkdir -p ${STEP_RECORDS}; echo ${shellQuote(trigger)} >${record}`;
  } else {
    inner +=
      `if [ -e ${record} ] && [ "$(cat ${record})" != ${shellQuote(trigger ?? "")} ]; then ${log("delete skipped: superseded by a newer apply")}exit 0; fi; ` +
      log("delete") + `${run} && rm -f ${record}`;
  }
  const sudo = user === "root" ? "" : "sudo -n ";
  return `${sudo}bash -c ${shellQuote(inner)}`;
}

/** Where steps that run on delete record the payload they last applied. */
export const STEP_RECORDS = "/var/lib/debvisor/steps";

/** Trigger: changes exactly when the script, the prelude, a parameter or the timeout changes. */
export function stepTrigger(script: string, params: Record<string, string>, secretNames: string[], timeoutSeconds: number): string {
  const h = createHash("sha256");
  h.update(JSON.stringify({ prelude: loadScript("host/lib.sh"), script: loadScript(script), params: sortKeys(params), secretNames: [...secretNames].sort(), timeoutSeconds }));
  return h.digest("hex");
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}

/**
 * Payload and trigger of a step without secrets. Many nodes often get the very same
 * parameters object (a builder memoizes it, e.g. the firewall of a cluster's nodes): the
 * texts, which grow with the cluster, are then rendered and hashed once, not once per node.
 */
const rendered = new WeakMap<object, Map<string, { payload: string; trigger: string }>>();
const renderedByContent = new Map<string, { payload: string; trigger: string }>();
function renderedStep(script: string, params: Record<string, string>, timeoutSeconds: number): { payload: string; trigger: string } {
  const key = `${script}\0${timeoutSeconds}`;
  // Equal parameters in other objects (every node's network step, say) share one text too.
  const content = `${key}\0${JSON.stringify(sortKeys(params))}`;
  const known = renderedByContent.get(content);
  if (known) return known;
  let byKey = rendered.get(params);
  if (!byKey) rendered.set(params, (byKey = new Map()));
  let r = byKey.get(key);
  if (!r) byKey.set(key, (r = { payload: renderPayload(script, params), trigger: stepTrigger(script, params, [], timeoutSeconds) }));
  renderedByContent.set(content, r);
  return r;
}

/** `@fact key=value` lines of a step's stdout. */
export function parseFacts(stdout: string): Record<string, string> {
  const facts: Record<string, string> = {};
  for (const line of stdout.split("\n")) {
    const m = /^@fact ([A-Za-z0-9_.-]+)=(.*)$/.exec(line);
    if (m) facts[m[1]] = m[2];
  }
  return facts;
}

/** The inputs of `command:remote:Command` DebVisor sets. */
interface RemoteCommandInputs {
  /** Made secret here; an Output must be secret already (`connectionFor`'s is, shared by a host's steps). */
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  create: string;
  delete?: string;
  stdin: pulumi.Input<string>;
  triggers: string[];
  addPreviousOutputInEnv: boolean;
  logging?: "none" | "stderr";
}

/** The version of the command provider the resources ask for (the `@pulumi/command` SDK's own). */
const COMMAND_PROVIDER_VERSION = "1.2.1";

/**
 * `command:remote:Command` of @pulumi/command, registered with the inputs and options its
 * SDK class sends (secret connection, provider version, replace on new triggers), but
 * declaring only the output DebVisor reads (`stdout`): the SDK class makes an Output for
 * each of its twelve properties, and at thousands of steps those were most of a
 * program's time and memory (README, Benchmarks).
 */
export class RemoteCommand extends pulumi.CustomResource {
  declare readonly stdout: pulumi.Output<string>;

  constructor(name: string, inputs: RemoteCommandInputs, opts: pulumi.CustomResourceOptions = {}) {
    // Options merged in the SDK class's order.
    const merged = pulumi.mergeOptions(pulumi.mergeOptions({ version: COMMAND_PROVIDER_VERSION }, opts), { additionalSecretOutputs: ["connection"], replaceOnChanges: ["triggers[*]"] });
    super("command:remote:Command", name, { ...inputs, connection: pulumi.Output.isInstance(inputs.connection) ? inputs.connection : pulumi.secret(inputs.connection), stdout: undefined }, merged);
  }
}

/**
 * The one way DebVisor runs something on a host: a `command:remote:Command` whose
 * script is a repo file, whose parameters travel on stdin, and which re-runs exactly
 * when what it would do changes. Not a resource itself: the Command is the child.
 */
export class RemoteStep {
  readonly command: RemoteCommand;
  readonly stdout: pulumi.Output<string>;
  /** `@fact key=value` lines the script printed (made on first use: most steps report none). */
  get facts(): pulumi.Output<Record<string, string>> {
    return (this.parsedFacts ??= this.stdout.apply(parseFacts));
  }
  private parsedFacts?: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: RemoteStepArgs, opts: pulumi.CustomResourceOptions) {
    const params = args.params ?? {};
    const secretParams = args.secretParams ?? {};
    const timeoutSeconds = args.timeoutSeconds ?? 900;
    const secretNames = Object.keys(secretParams);
    const hasSecrets = secretNames.length > 0;
    const secretOutput = hasSecrets || (args.secretOutput ?? false);
    for (const k of secretNames) {
      if (k in params) throw new Error(`step ${name}: parameter ${k} is both plain and secret`);
    }

    let stdin: pulumi.Input<string>;
    let trigger: string;
    if ((args.parts === undefined) === (args.script === undefined)) throw new Error(`step ${name}: give a script or parts, not both`);
    if (args.parts !== undefined) {
      if (hasSecrets || args.params !== undefined || args.runOnDelete) throw new Error(`step ${name}: a multi-part step takes its parameters per part, no secrets, and runs nothing on delete`);
      stdin = renderPartsPayload(args.partsRecord ?? name, args.parts);
      trigger = partsTrigger(args.parts, timeoutSeconds);
    } else if (hasSecrets) {
      // Secret values never reach the command line or plaintext state: the whole
      // payload is a secret, and so is everything the script prints.
      const script = args.script!;
      stdin = pulumi.secret(pulumi.all(secretParams).apply((secrets) => renderPayload(script, { ...params, ...secrets })));
      trigger = stepTrigger(script, params, secretNames, timeoutSeconds);
    } else {
      ({ payload: stdin, trigger } = renderedStep(args.script!, params, timeoutSeconds));
    }

    this.command = new RemoteCommand(
      name,
      {
        connection: connectionFor(args.host),
        create: renderCommand(args.host.user, timeoutSeconds, name, "apply", args.runOnDelete ? trigger : undefined),
        ...(args.runOnDelete ? { delete: renderCommand(args.host.user, timeoutSeconds, name, "delete", trigger) } : {}),
        stdin,
        triggers: [trigger],
        addPreviousOutputInEnv: false,
        ...(secretOutput ? { logging: args.showStderr ? "stderr" as const : "none" as const } : {}),
      },
      { ...opts, ...(secretOutput ? { additionalSecretOutputs: ["stdout", "stderr"] } : {}) },
    );
    this.stdout = this.command.stdout;
  }
}
