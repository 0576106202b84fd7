import * as pulumi from "@pulumi/pulumi";

/** One resource registration as the engine would see it. */
export interface Registration {
  type: string;
  name: string;
  urn: string;
  /** URN of the parent ("" for none). The mocks' newResource args carry no parent. */
  parent: string;
  custom: boolean;
  /** Inputs exactly as serialized for the engine: secrets still inside their wrappers. */
  raw: Record<string, unknown>;
  /** Inputs with secrets unwrapped. */
  inputs: Record<string, any>;
  /** Names of the resources it depends on (dependsOn and inputs' resources), as sent to the engine. */
  dependsOn: string[];
  /** Name of the explicit provider ("" for the default one). */
  provider: string;
  /** Resource options as sent to the engine. */
  options: { version: string; replaceOnChanges: string[]; additionalSecretOutputs: string[] };
}

const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";

/**
 * Installs Pulumi mocks once per test file, before any module that registers resources
 * is imported, and records every registration (wrapping the mock monitor, since the
 * mocks' newResource args lose parents and secret wrappers).
 */
export async function installMocks(options: { preview?: boolean; stack?: string; stdout?: (name: string) => string } = {}) {
  const registrations: Registration[] = [];
  const pending = new Map<string, Omit<Registration, "urn" | "inputs">>();
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const key = `${args.type}::${args.name}`;
        const p = pending.get(key);
        const project = "debvisor";
        const stack = options.stack ?? "test";
        const urn = `urn:pulumi:${stack}::${project}::${args.type}::${args.name}`;
        if (p) registrations.push({ ...p, urn, inputs: unwrapSecrets(p.raw) as Record<string, any> });
        // Commands echo their inputs; stdout stays empty (facts parse to {}) unless the test gives one.
        return { id: `${args.name}-id`, state: { ...args.inputs, stdout: options.stdout?.(args.name) ?? "", stderr: "" } };
      },
      call(args) {
        return args.inputs;
      },
    },
    "debvisor",
    options.stack ?? "test",
    options.preview ?? false,
  );
  const monitor = pulumi.runtime.getMonitor() as any;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, cb: any) => {
    pending.set(`${req.getType()}::${req.getName()}`, {
      type: req.getType(), name: req.getName(), parent: req.getParent(), custom: req.getCustom(),
      raw: req.getObject().toJavaScript(),
      dependsOn: (req.getDependenciesList() as string[]).map((u) => u.split("::").pop()!),
      // A provider reference is "<urn>::<id>": the name is the URN's last part.
      provider: String(req.getProvider() ?? "").split("::").slice(-2, -1)[0] ?? "",
      options: { version: req.getVersion(), replaceOnChanges: req.getReplaceonchangesList(), additionalSecretOutputs: req.getAdditionalsecretoutputsList() },
    });
    return register(req, cb);
  };
  return {
    registrations,
    /** Waits until every registration RPC has been answered. */
    async settle(): Promise<Registration[]> {
      await (pulumi.runtime as any).waitForRPCs();
      return registrations;
    },
    reset() {
      registrations.length = 0;
      pending.clear();
    },
  };
}

/** The value with every secret wrapper replaced by its content. */
export function unwrapSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (value !== null && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (o[SIG_KEY] === SECRET_SIG) return unwrapSecrets(o.value);
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, unwrapSecrets(v)]));
  }
  return value;
}

/** Paths inside `value` where `needle` appears outside any secret wrapper. */
export function plaintextOccurrences(value: unknown, needle: string, path = "$"): string[] {
  if (typeof value === "string") return value.includes(needle) ? [path] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => plaintextOccurrences(v, needle, `${path}[${i}]`));
  if (value !== null && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (o[SIG_KEY] === SECRET_SIG) return []; // a secret: the engine encrypts it
    return Object.entries(o).flatMap(([k, v]) => plaintextOccurrences(v, needle, `${path}.${k}`));
  }
  return [];
}

/** The name of a resource's parent, from the parent URN. */
export function parentName(r: Registration): string | undefined {
  return r.parent ? r.parent.split("::").pop() : undefined;
}

/**
 * The text of one part of a multi-part step (`# --- part <name>: ...` up to the next part):
 * its parameters and script, as the host runs them.
 */
export function partText(stdin: string, name: string): string {
  const start = stdin.indexOf(`# --- part ${name}: `);
  if (start < 0) throw new Error(`no part ${name} in this step`);
  const next = stdin.indexOf("\n# --- part ", start + 1);
  return stdin.slice(start, next < 0 ? undefined : next);
}
