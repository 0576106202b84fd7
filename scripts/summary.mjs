// Reads the dev stack's `nodes` output (JSON on stdin) and prints one line per node.
let input = "";
for await (const chunk of process.stdin) input += chunk;
const nodes = JSON.parse(input);
const rows = [["node", "address", "profile", "debian", "kernel", "cpus", "memory", "kvm", "disks"]];
for (const [name, n] of Object.entries(nodes)) {
  const f = n.facts ?? {};
  rows.push([name, n.address, n.profile, `${f.debianVersion ?? "?"} (${f.codename ?? "?"})`, f.kernel ?? "?", f.cpus ?? "?", `${f.memoryMiB ?? "?"} MiB`, f.kvm ?? "?", f.disksById ? f.disksById.split(",").length : 0]);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
for (const r of rows) console.log(r.map((c, i) => String(c).padEnd(widths[i])).join("  "));
