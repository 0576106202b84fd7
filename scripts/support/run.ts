import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { existsSync, readFileSync } from "node:fs";

/** The repository root (this file runs from scripts/support/ or from dist/scripts/support/). */
export const ROOT = [resolve(import.meta.dirname, "../.."), resolve(import.meta.dirname, "../../..")].find((d) => existsSync(resolve(d, "Pulumi.yaml")))!;
export const LAB_DIR = process.env.DEBVISOR_LAB_DIR ?? "/var/lib/debvisor-lab";

export interface Result { code: number; stdout: string; stderr: string }

/**
 * Runs a command to completion, never throwing; output captured. Asynchronous on
 * purpose: a blocking spawnSync starves the test worker's RPC with the runner.
 */
export function run(cmd: string, args: string[], opts: { env?: Record<string, string>; input?: string } = {}): Promise<Result> {
  return new Promise((done) => {
    const p = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...opts.env } });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("error", (e) => done({ code: -1, stdout, stderr: `${stderr}${e.message}` }));
    p.on("close", (code) => done({ code: code ?? -1, stdout, stderr }));
    p.stdin.on("error", () => {}); // a command that exits without reading stdin
    p.stdin.end(opts.input ?? "");
  });
}

/** The result, or an error with the command's output when it failed. */
export async function ok(r: Result | Promise<Result>, what: string): Promise<Result> {
  const res = await r;
  if (res.code !== 0) throw new Error(`${what} failed (exit ${res.code})\n--- stdout\n${res.stdout.slice(-4000)}\n--- stderr\n${res.stderr.slice(-4000)}`);
  return res;
}

const sshArgs = (host: string, command: string, extra: string[] = []) => ["-F", `${LAB_DIR}/ssh_config`, ...extra, `root@${host}`, command];

export const lab = {
  cmd: (...args: string[]) => run("bash", ["scripts/lab/lab.sh", ...args]),
  /** A fresh fleet: down (hosts' filesystems discarded), then up. */
  async fresh(...upArgs: string[]) {
    await ok(lab.cmd("down"), "lab down");
    await ok(lab.cmd("up", ...upArgs), "lab up");
  },
  /**
   * Fresh hosts without disturbing the rest of the fleet: with a fleet of at least
   * `count` hosts of `release` up, only `hosts` are reset; otherwise a fresh fleet.
   */
  async freshHosts(count: number, release: "bookworm" | "trixie", ...hosts: string[]) {
    const jsonFile = `${LAB_DIR}/lab.json`;
    const fleet = existsSync(jsonFile) ? JSON.parse(readFileSync(jsonFile, "utf8")) : undefined;
    // Container hosts only: VMs (kind "vm") are counted apart.
    const containers = (fleet?.hosts ?? []).filter((h: { kind?: string }) => h.kind !== "vm").length;
    if (fleet?.release === release && containers >= count) await ok(lab.cmd("reset", ...hosts), `lab reset ${hosts.join(" ")}`);
    else await lab.fresh("--hosts", String(count), "--release", release);
  },
  /** A shell command on a lab host as root, through the lab's pinned ssh config. */
  sh: (host: string, command: string, input?: string) => run("ssh", sshArgs(host, command), { input }),
  /** Same, accepting whatever host key the host now has (after reset-hostkey). */
  shAnyKey: (host: string, command: string) =>
    run("ssh", sshArgs(host, command, ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"])),
  async out(host: string, command: string): Promise<string> {
    return (await ok(lab.sh(host, command), `on ${host}: ${command}`)).stdout.trim();
  },
  /** How many DebVisor steps have started on the host (the step wrapper logs each one). */
  async stepsRun(host: string, anyKey = false): Promise<number> {
    const cmd = "journalctl -q -t debvisor -o cat --no-pager | grep -c '^step ' || true";
    return Number((await ok(anyKey ? lab.shAnyKey(host, cmd) : lab.sh(host, cmd), `count steps on ${host}`)).stdout.trim());
  },
};
