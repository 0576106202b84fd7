import { readFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The step scripts are real `.sh` files under `components/`. Compiled code lives in
 * `dist/components/...` and an installed package in `node_modules/debvisor/...`, so the
 * scripts are found from the package root rather than from this file's own folder.
 */
function findComponentsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "components", "host", "lib.sh");
    if (existsSync(candidate)) return join(dir, "components");
    const parent = dirname(dir);
    if (parent === dir) throw new Error("debvisor: cannot find the components/ scripts folder");
    dir = parent;
  }
}

let componentsDir: string | undefined;
const cache = new Map<string, string>();

/**
 * Text of a step script, by its path under `components/` (e.g. `base/apt-sources.sh`).
 * A line `# @include <path>` is replaced by that script's text (one copy of shared shell
 * functions, such as the storage layer's disk preflight, in every script that uses them).
 */
export function loadScript(relativePath: string): string {
  let text = cache.get(relativePath);
  if (text === undefined) {
    componentsDir ??= findComponentsDir();
    text = readFileSync(join(componentsDir, relativePath), "utf8").replace(/^# @include (\S+)$/gm, (_, inc: string) => {
      if (inc === relativePath) throw new Error(`${relativePath} includes itself`);
      return `# --- included ${inc}\n${loadScript(inc).replace(/\n$/, "")}`;
    });
    cache.set(relativePath, text);
  }
  return text;
}
