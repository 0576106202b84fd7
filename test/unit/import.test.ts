import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

// The published artifact, not the source tree: `npm pack` the built package, unpack it
// into a scratch program's node_modules, type-check the program against the shipped
// .d.ts, then run it under mocks. (Dependencies are linked from this repo's
// node_modules, so no network is needed.)
const repo = resolve(import.meta.dirname, "../..");

describe("importing debvisor from another program", () => {
  it("the packed package type-checks and registers a node", () => {
    const dir = mkdtempSync(join(tmpdir(), "debvisor-import-"));
    const packed = JSON.parse(execFileSync("npm", ["pack", "--json", "--pack-destination", dir], { cwd: repo, encoding: "utf8" }))[0];
    const files: string[] = packed.files.map((f: { path: string }) => f.path);
    expect(files).toContain("dist/components/index.js");
    expect(files).toContain("dist/components/index.d.ts");
    expect(files).toContain("components/host/lib.sh");
    expect(files).toContain("components/base/apt-sources.sh");
    expect(files.some((f) => f.startsWith("test/") || f.startsWith("components/") && f.endsWith(".ts"))).toBe(false);

    const modules = join(dir, "node_modules");
    mkdirSync(join(modules, "debvisor"), { recursive: true });
    execFileSync("tar", ["-xzf", join(dir, packed.filename), "-C", join(modules, "debvisor"), "--strip-components=1"]);
    for (const entry of readdirSync(join(repo, "node_modules"))) {
      if (entry !== "debvisor" && !entry.startsWith(".")) symlinkSync(join(repo, "node_modules", entry), join(modules, entry));
    }
    cpSync(join(repo, "test/import/program.ts"), join(dir, "program.ts"));
    cpSync(join(repo, "test/import/run.mjs"), join(dir, "run.mjs"));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "scratch", type: "module", private: true }));
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
      compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, skipLibCheck: true, outDir: "." },
      files: ["program.ts"],
    }));
    execFileSync(process.execPath, [join(repo, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], { cwd: dir, encoding: "utf8" });
    const out = JSON.parse(execFileSync(process.execPath, ["run.mjs"], { cwd: dir, encoding: "utf8" }).trim().split("\n").pop()!);
    expect(out.profile).toBe("compute");
    expect(out.registered).toEqual([
      "command:remote:Command edge1-base-apply", "command:remote:Command edge1-containers-apply", "command:remote:Command edge1-management-apply",
      "command:remote:Command edge1-network-apply", "command:remote:Command edge1-network-confirm",
      "command:remote:Command edge1-security-apply", "command:remote:Command edge1-virtualization-apply",
      "debvisor:base:DebianBase edge1-base", "debvisor:containers:ContainersHost edge1-containers", "debvisor:index:DebVisorNode edge1",
      "debvisor:management:NodeManagement edge1-management", "debvisor:network:HostNetwork edge1-network", "debvisor:security:HostSecurity edge1-security",
      "debvisor:virtualization:VirtualizationHost edge1-virtualization",
    ]);
  });
});
