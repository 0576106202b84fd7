import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STEP_RECORDS, parseFacts, renderCommand, renderParams, renderPayload, stepTrigger } from "../../components/host/index.js";

describe("RemoteStep rendering", () => {
  it("trigger changes with the script or a parameter, and not otherwise", () => {
    const base = stepTrigger("base/packages.sh", { DV_PACKAGES: "jq" }, [], 900);
    expect(stepTrigger("base/packages.sh", { DV_PACKAGES: "jq" }, [], 900)).toBe(base);
    expect(stepTrigger("base/packages.sh", { DV_PACKAGES: "jq curl" }, [], 900)).not.toBe(base);
    expect(stepTrigger("base/locale.sh", { DV_PACKAGES: "jq" }, [], 900)).not.toBe(base);
    expect(stepTrigger("base/packages.sh", { DV_PACKAGES: "jq" }, [], 60)).not.toBe(base);
    expect(stepTrigger("base/packages.sh", { DV_PACKAGES: "jq" }, ["DV_TOKEN"], 900)).not.toBe(base);
  });

  it("parameters survive any characters, as bash reads them", () => {
    const nasty = `it's "quoted" $HOME !x !! \`id\` \\ ; rm -rf / \n second line 'again' ''`;
    const out = execFileSync("bash", ["-c", `${renderParams({ DV_X: nasty })}printf %s "$DV_X"`], { encoding: "utf8" });
    expect(out).toBe(nasty);
  });

  it("rejects parameter names outside DV_*", () => {
    expect(() => renderParams({ PATH: "x" })).toThrow(/"PATH": names must match/);
  });

  it("the command line carries no parameter and uses sudo only for non-root users", () => {
    const root = renderCommand("root", 900, "n1-apt");
    const user = renderCommand("debvisor", 900, "n1-apt");
    expect(root.startsWith("bash -c ")).toBe(true);
    expect(user.startsWith("sudo -n bash -c ")).toBe(true);
    expect(user).toContain("timeout --kill-after=15 900");
    expect(root.replace("DV_OP=apply ", "")).not.toContain("DV_"); // the operation is the only variable it sets
    expect(root).toContain("logger -t debvisor -- '\\''step n1-apt start'\\''");
  });

  it("the payload runs strict, with the prelude, and its script", () => {
    const p = renderPayload("base/packages.sh", { DV_PACKAGES: "jq" });
    expect(p.startsWith("#!/bin/bash\nset -euo pipefail\nexport DV_PACKAGES='jq'\n")).toBe(true);
    expect(p).toContain("dv_install()");
    expect(p).toContain('dv_install "${pkgs[@]}"');
  });

  it("the wrapper runs the payload from stdin and leaves no copy of it behind", () => {
    // The real wrapper, run locally as this user (no sudo), with its temp dir redirected.
    const dir = mkdtempSync(join(tmpdir(), "debvisor-wrapper-"));
    const payload = renderPayload("base/facts.sh", { DV_SECRET: "s3cret" }).replace(/# --- base\/facts\.sh[\s\S]*$/, 'dv_fact answer "$DV_SECRET"\n');
    const out = execFileSync("bash", ["-c", renderCommand("root", 30, "t").replace("/run/", `${dir}/`)], { input: payload, encoding: "utf8" });
    expect(parseFacts(out)).toEqual({ answer: "s3cret" });
    expect(readdirSync(dir)).toEqual([]);
  });

  it("the delete command runs the same payload with DV_OP=delete; apply runs with DV_OP=apply", () => {
    const payload = renderPayload("base/facts.sh", {}).replace(/# --- base\/facts\.sh[\s\S]*$/, 'dv_fact op "${DV_OP:-unset}"\n');
    const dir = mkdtempSync(join(tmpdir(), "debvisor-wrapper-"));
    const runOp = (op?: "apply" | "delete") =>
      parseFacts(execFileSync("bash", ["-c", renderCommand("root", 30, "t", op).replace("/run/", `${dir}/`)], { input: payload, encoding: "utf8" })).op;
    expect(runOp()).toBe("apply");
    expect(runOp("delete")).toBe("delete");
    expect(renderCommand("root", 30, "n1-vm", "delete")).toContain("step n1-vm delete");
  });

  it("a replaced step's old delete is skipped: only the payload applied last may delete", () => {
    const dir = mkdtempSync(join(tmpdir(), "debvisor-wrapper-"));
    const records = join(dir, "steps");
    // v1 and v2 stand for two triggers (what makes Pulumi replace a step); payloads may be equal.
    const payload = (v: string) => renderPayload("base/facts.sh", {}).replace(/# --- base\/facts\.sh[\s\S]*$/, `echo "$DV_OP ${v}" >>${dir}/ran\n`);
    const step = (op: "apply" | "delete", v: string) =>
      execFileSync("bash", ["-c", renderCommand("root", 30, "n1-vm", op, `trigger-${v}`).replace("/run/", `${dir}/`).replaceAll(STEP_RECORDS, records)], { input: payload(v), encoding: "utf8" });
    const ran = () => readFileSync(join(dir, "ran"), "utf8").trim().split("\n");
    step("apply", "v1");
    step("apply", "v2"); // the replacement's create runs first...
    step("delete", "v1"); // ...then the old step's delete: superseded, the script does not run
    expect(ran()).toEqual(["apply v1", "apply v2"]);
    step("delete", "v2"); // the real delete (resource removed) runs and drops the record
    expect(ran()).toEqual(["apply v1", "apply v2", "delete v2"]);
    expect(readdirSync(records)).toEqual([]);
    step("delete", "v2"); // no record (e.g. a host set up before records existed): it runs
    expect(ran().at(-1)).toBe("delete v2");
  });

  it("a failing apply records nothing, so the step applied before keeps its delete", () => {
    const dir = mkdtempSync(join(tmpdir(), "debvisor-wrapper-"));
    const records = join(dir, "steps");
    const cmd = (op: "apply" | "delete") => renderCommand("root", 30, "n1-vm", op, "t1").replace("/run/", `${dir}/`).replaceAll(STEP_RECORDS, records);
    const good = renderPayload("base/facts.sh", {}).replace(/# --- base\/facts\.sh[\s\S]*$/, `echo "$DV_OP" >>${dir}/ran\n`);
    const bad = renderPayload("base/facts.sh", {}).replace(/# --- base\/facts\.sh[\s\S]*$/, "exit 3\n");
    execFileSync("bash", ["-c", cmd("apply")], { input: good });
    expect(() => execFileSync("bash", ["-c", cmd("apply").replace("t1", "t2")], { input: bad, stdio: "pipe" })).toThrow();
    execFileSync("bash", ["-c", cmd("delete")], { input: good });
    expect(readFileSync(join(dir, "ran"), "utf8")).toBe("apply\ndelete\n");
  });

  it("an interrupted dpkg run is finished once the lock is free; other dpkg failures stop the step", () => {
    const dir = mkdtempSync(join(tmpdir(), "debvisor-dpkg-"));
    mkdirSync(join(dir, "bin"));
    mkdirSync(join(dir, "updates"));
    writeFileSync(join(dir, "updates", "0001"), "");
    // A fake dpkg: locked for the first two calls, then finishes the run (or always fails).
    const fake = (failure: string) =>
      writeFileSync(join(dir, "bin", "dpkg"), `#!/bin/bash\nn=$(cat ${dir}/calls 2>/dev/null || echo 0); echo $((n+1)) >${dir}/calls\n` +
        `if [ "$n" -lt 2 ]; then echo "${failure}" >&2; exit 2; fi\nrm -f ${dir}/updates/*\n`, { mode: 0o755 });
    const script = `${readFileSync("components/host/lib.sh", "utf8")}\nPATH=${dir}/bin:$PATH\nDV_DPKG_UPDATES=${dir}/updates DV_DPKG_RETRY_SECONDS=0 dv_dpkg_configure\necho done\n`;
    fake("dpkg: error: dpkg frontend lock was locked by another process with pid 42");
    expect(execFileSync("bash", ["-c", `set -euo pipefail\n${script}`], { encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] }).trim()).toBe("done");
    expect(readFileSync(join(dir, "calls"), "utf8").trim()).toBe("3");
    rmSync(join(dir, "calls"));
    writeFileSync(join(dir, "updates", "0001"), "");
    fake("dpkg: error processing package foo (--configure)");
    expect(() => execFileSync("bash", ["-c", `set -euo pipefail\n${script}`], { stdio: "pipe" })).toThrow(/dpkg --configure -a failed/);
    expect(readFileSync(join(dir, "calls"), "utf8").trim()).toBe("1");
  });

  it("a failing script fails the step", () => {
    const payload = renderPayload("base/facts.sh", {}).replace(/# --- base\/facts\.sh[\s\S]*$/, "false\necho unreachable\n");
    const dir = mkdtempSync(join(tmpdir(), "debvisor-wrapper-"));
    expect(() => execFileSync("bash", ["-c", renderCommand("root", 30, "t").replace("/run/", `${dir}/`)], { input: payload, encoding: "utf8", stdio: "pipe" })).toThrow();
  });

  it("parses facts", () => {
    expect(parseFacts("noise\n@fact a=1\n@fact b.c=x=y\n@changed z\n")).toEqual({ a: "1", "b.c": "x=y" });
  });
});
