import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { ROOT, ok, run } from "./run.js";

/** A stack of its own for the e2e tier, so the tests never edit Pulumi.dev.yaml. */
export const STACK = "e2e";
const ENV = { PULUMI_CONFIG_PASSPHRASE: "debvisor-e2e", DEBVISOR_SKIP_BUILD: "1" };
const configFile = join(ROOT, `Pulumi.${STACK}.yaml`);

export const pulumi = {
  run: (...args: string[]) => run("bash", ["scripts/pulumi.sh", ...args, "--stack", STACK], { env: ENV }),
  up: () => pulumi.run("up", "--yes", "--skip-preview", "--non-interactive"),
  /** Removes any earlier e2e stack (its hosts are gone; `stack rm` deletes its config file too) and creates it anew. */
  async freshStack() {
    await pulumi.run("stack", "rm", "--yes", "--force");
    await ok(pulumi.run("stack", "init"), "pulumi stack init e2e");
  },
  /** The dev stack's cluster config, which targets the lab. */
  devCluster(): any {
    return parse(readFileSync(join(ROOT, "Pulumi.dev.yaml"), "utf8")).config["debvisor:cluster"];
  },
  /** Sets `debvisor:cluster` in the stack's config file, keeping what `stack init` wrote (the encryption salt). */
  writeCluster(cluster: unknown) {
    const current = existsSync(configFile) ? (parse(readFileSync(configFile, "utf8")) ?? {}) : {};
    writeFileSync(configFile, stringify({ ...current, config: { ...current.config, "debvisor:cluster": cluster } }));
  },
  removeConfig: () => rmSync(configFile, { force: true }),
  /** Steps of `preview --json` that change something: [op, resource name]. */
  async changes(): Promise<[string, string][]> {
    const r = await ok(pulumi.run("preview", "--json", "--diff", "--non-interactive"), "pulumi preview --json");
    const steps: { op: string; urn: string }[] = JSON.parse(r.stdout).steps ?? [];
    // Reads (the program's reference to its own outputs) change nothing.
    return steps.filter((s) => s.op !== "same" && s.op !== "read").map((s) => [s.op, s.urn.split("::").pop()!] as [string, string]);
  },
};
