import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { LAB_DIR, ROOT, lab, labJson, ok, recordFigures, run, vmAddress, vmsUp } from "./support.js";

// The Kubernetes layer on real kernels (lab VMs under QEMU/TCG: the container hosts cannot
// run a kubelet), through the real engine, with nothing from the internet: kubeadm,
// kubelet, kubectl, cri-tools and kubernetes-cni come from the lab's signed apt repository
// and every image from its registry (`npm run toolchain:kubernetes`, then
// `npm run lab -- kubernetes up`), as an air-gapped site would serve them. One control
// plane and one worker (a bigger cluster does not fit two cores under TCG: README). Calico
// cannot be built here: the lab's pod network is the reference CNI plugins (bridge +
// host-local, from the kubernetes-cni package), one pod range per node with a route to
// the other node, written by this test, not by DebVisor.
const STACK = "vm-kubernetes";
const ENV = { PULUMI_CONFIG_PASSPHRASE: "debvisor-vm-kubernetes", DEBVISOR_SKIP_BUILD: "1" };
const configFile = join(ROOT, `Pulumi.${STACK}.yaml`);
// DEBVISOR_K8S_HA=1: three control planes behind a keepalived VIP and one worker (four VMs:
// the largest this 2-core machine was tried with), and the VIP's failover.
const HA = process.env.DEBVISOR_K8S_HA === "1";
const VMS = HA ? ["v1", "v2", "v3", "v4"] : ["v1", "v2"];
const CONTROL_PLANES = HA ? ["v1", "v2", "v3"] : ["v1"];
const CP = "v1";
const WORKER = VMS[VMS.length - 1];
const VIP = "10.213.0.90";
const SERVE = "10.213.0.1";
const REPO = `http://${SERVE}:3143/kubernetes/`;
const REGISTRY = `${SERVE}:5000`;
const figures: Record<string, number | string> = {};
let restore: () => Promise<void> = async () => {};

const pulumi = {
  run: (...args: string[]) => run("bash", ["scripts/pulumi.sh", ...args, "--stack", STACK], { env: ENV }),
  up: () => pulumi.run("up", "--yes", "--skip-preview", "--non-interactive"),
};
const seconds = (t0: number) => Math.round((Date.now() - t0) / 1000);
const kubectl = (args: string) => lab.out(CP, `kubectl --kubeconfig /etc/kubernetes/admin.conf ${args}`);

function cluster(key: string): unknown {
  return {
    defaults: {
      user: "debvisor", privateKeyFile: `${LAB_DIR}/id_ed25519`, release: "trixie", aptProxy: `http://${SERVE}:3142`, profile: "containers",
      // cni0 is the lab CNI's bridge: pods reach their node's API server and kubelet through it.
      security: { controllerAddresses: [SERVE], clusterNetworks: ["10.213.0.0/24"], trustedInterfaces: ["cni0"] },
      containers: { insecureRegistries: [REGISTRY], sandboxImage: `${REGISTRY}/k8s/pause:3.10.1`, docker: false },
      kubernetes: {
        enabled: true, packageRepository: { url: REPO, key },
        imageRepository: `${REGISTRY}/k8s`, dnsImageTag: "v1.14.3", controlPlaneWorkloads: true,
        ...(HA ? { controlPlaneEndpoint: { address: VIP } } : {}),
      },
    },
    nodes: VMS.map((name, i) => ({
      name, address: vmAddress(i + 1), hostKeyFile: `${LAB_DIR}/hostkeys/${name}.pub`,
      kubernetes: { role: CONTROL_PLANES.includes(name) ? "controlPlane" : "worker" },
    })),
  };
}
function write(c: unknown) {
  const current = existsSync(configFile) ? (parse(readFileSync(configFile, "utf8")) ?? {}) : {};
  writeFileSync(configFile, stringify({ ...current, config: { ...current.config, "debvisor:cluster": c } }));
}
async function waitFor<T>(check: () => Promise<T | undefined>, secs: number, what: string): Promise<T> {
  let last: unknown;
  for (const t0 = Date.now(); Date.now() - t0 < secs * 1000; await new Promise((r) => setTimeout(r, 5000))) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
  }
  throw new Error(`${what}: not within ${secs} s${last ? ` (last error: ${last})` : ""}`);
}

/**
 * The lab's pod network: on each node a bridge CNI config for the pod range the
 * controller manager gave that node, and a route to every other node's range.
 */
async function labPodNetwork(): Promise<void> {
  const ranges = await waitFor(async () => {
    const out = await kubectl("get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.spec.podCIDR}{\"\\n\"}{end}'");
    const m = Object.fromEntries(out.split("\n").filter(Boolean).map((l) => l.split("=")));
    return VMS.every((v) => m[v]) ? (m as Record<string, string>) : undefined;
  }, 600, "every node has a pod range");
  for (const [i, v] of VMS.entries()) {
    const conf = {
      cniVersion: "1.0.0", name: "lab",
      plugins: [
        { type: "bridge", bridge: "cni0", isGateway: true, ipMasq: true, hairpinMode: true, ipam: { type: "host-local", ranges: [[{ subnet: ranges[v] }]], routes: [{ dst: "0.0.0.0/0" }] } },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    };
    await ok(lab.sh(v, "mkdir -p /etc/cni/net.d && cat >/etc/cni/net.d/10-lab.conflist", JSON.stringify(conf, null, 2)), `lab CNI on ${v}`);
    for (const [j, w] of VMS.entries()) if (j !== i) await lab.out(v, `ip route replace ${ranges[w]} via ${vmAddress(j + 1)}`);
  }
}

describe.sequential("VM tier: Kubernetes (kubeadm init/join) from an offline apt repository and registry", () => {
  beforeAll(async () => {
    await ok(run("bash", ["scripts/setup.sh"]), "npm run setup");
    await ok(run("npm", ["run", "--silent", "build"]), "npm run build");
    // The artifacts, built offline and cached outside the repo (about 20 minutes the first
    // time on two cores, well under a second when nothing changed).
    await ok(run("bash", ["scripts/toolchain/kubernetes/build.sh"]), "npm run toolchain:kubernetes");
    // Two trixie VMs (kubelet needs containerd 1.7: trixie's), two vCPUs each (kubeadm's
    // control-plane minimum), beside no container host: the fleet's release is the VMs'.
    const fleet = labJson();
    const vms = fleet?.hosts.filter((h) => h.kind === "vm").map((h) => h.name) ?? [];
    if (fleet !== undefined && !(fleet.release === "trixie" && VMS.every((v) => vms.includes(v)))) {
      await ok(lab.cmd("down"), "lab down");
    }
    const up = await vmsUp(["--release", "trixie", "--vms", String(VMS.length), "--vm-memory", HA ? "2560" : "3072", "--vm-cpus", "2"], 0);
    restore = up.restore;
    figures.labUpSeconds = Math.round(up.seconds);
    // Served on the lab bridge as an air-gapped site would: registry and signed apt repository.
    await ok(lab.cmd("kubernetes", "up"), "lab kubernetes up (registry and apt repository)");
    const key = await (await fetch(`${REPO}Release.key`)).text();
    await pulumi.run("stack", "rm", "--yes", "--force");
    await ok(pulumi.run("stack", "init"), `pulumi stack init ${STACK}`);
    write(cluster(key));
  });
  afterAll(async () => {
    recordFigures("kubernetes", figures);
    if (process.env.DEBVISOR_VM_KEEP !== "1") {
      await pulumi.run("stack", "rm", "--yes", "--force");
      rmSync(configFile, { force: true });
    }
    await restore();
  });

  it("up: packages from the lab's signed repository, kubeadm init on v1, v2 joins; with the lab's pod network both nodes are Ready", async () => {
    let t0 = Date.now();
    await ok(pulumi.up(), "first pulumi up");
    figures.firstUpSeconds = seconds(t0);
    t0 = Date.now();
    await labPodNetwork();
    const ready = await waitFor(async () => {
      const out = await kubectl("get nodes --no-headers");
      const lines = out.split("\n").filter(Boolean);
      return lines.length === VMS.length && lines.every((l) => / Ready /.test(l)) ? out : undefined;
    }, 900, "both nodes Ready");
    figures.readySeconds = seconds(t0);
    for (const v of VMS) expect(ready).toMatch(new RegExp(`^${v}\\s+Ready\\s+${CONTROL_PLANES.includes(v) ? "control-plane" : "<none>"}`, "m"));
    // Pinned and held, from the lab's repository.
    for (const v of VMS) {
      expect(await lab.out(v, "dpkg-query -W -f='${Version}' kubelet")).toBe("1.34.4-1.1");
      expect(await lab.out(v, "apt-mark showhold | grep -E '^(kubeadm|kubelet|kubectl)$' | sort | paste -sd,")).toBe("kubeadm,kubectl,kubelet");
    }
    // The control plane's images came from the lab's registry.
    expect(await kubectl("-n kube-system get pod -l component=kube-apiserver -o jsonpath='{.items[0].spec.containers[0].image}'")).toBe(`${REGISTRY}/k8s/kube-apiserver:v1.34.4`);
  });

  it("a pod from an image built in the lab runs and reaches a Service by its name through CoreDNS", async () => {
    const manifest = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: default }
spec:
  replicas: 1
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      nodeSelector: { kubernetes.io/hostname: ${WORKER} }
      containers:
        - name: web
          image: ${REGISTRY}/lab/httpd:1
          ports: [{ containerPort: 8080 }]
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: default }
spec:
  selector: { app: web }
  ports: [{ port: 80, targetPort: 8080 }]
`;
    await ok(lab.sh(CP, "kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f -", manifest), "web Deployment and Service");
    await waitFor(async () => ((await kubectl("rollout status deploy/web --timeout=10s")).includes("successfully") ? true : undefined), 600, "web rolled out");
    const t0 = Date.now();
    const body = await waitFor(async () => {
      const r = await lab.sh(CP, `kubectl --kubeconfig /etc/kubernetes/admin.conf run client-$RANDOM --rm -i --restart=Never --image=${REGISTRY}/lab/busybox:1 --command -- sh -c 'nslookup web.default.svc.cluster.local && wget -q -T 10 -O - http://web'`);
      return r.code === 0 && r.stdout.includes("Address") ? r.stdout : undefined;
    }, 600, "a client pod resolves web and fetches from it");
    figures.serviceByNameSeconds = seconds(t0);
    expect(body).toMatch(/Name:\s+web\.default\.svc\.cluster\.local/);
    expect(body).toContain("served by busybox httpd");
  });

  it("a second up runs no step on any node", async () => {
    const before = await Promise.all(VMS.map((v) => lab.stepsRun(v)));
    const t0 = Date.now();
    await ok(pulumi.up(), "second pulumi up");
    figures.secondUpSeconds = seconds(t0);
    expect(await Promise.all(VMS.map((v) => lab.stepsRun(v)))).toEqual(before);
  });

  it("the kubeconfig output is secret, and no key or token is in plaintext state", async () => {
    const outputs = JSON.parse((await ok(pulumi.run("stack", "output", "--json"), "stack output")).stdout);
    // The whole object or its kubeconfig is shown as [secret], never the text.
    expect(JSON.stringify(outputs.kubernetes)).toContain("[secret]");
    expect(JSON.stringify(outputs.kubernetes)).not.toContain("apiVersion");
    const state = (await ok(pulumi.run("stack", "export"), "stack export")).stdout;
    const secretState = (await ok(pulumi.run("stack", "export", "--show-secrets"), "stack export --show-secrets")).stdout;
    const adminKey = await lab.out(CP, "sed -n 's/^ *client-key-data: //p' /etc/kubernetes/admin.conf");
    expect(adminKey.length).toBeGreaterThan(100);
    expect(secretState).toContain(adminKey); // the check below can fail
    expect(state).not.toContain(adminKey);
    expect(state).not.toMatch(/[a-z0-9]{6}\.[a-z0-9]{16}/); // no bootstrap token
  });
  it.runIf(HA)("the API answers on the VIP with the first control plane's cable pulled", async () => {
    const readyz = () => run("curl", ["-sk", "--max-time", "5", `https://${VIP}:6443/readyz`]);
    expect((await readyz()).stdout).toBe("ok");
    const holder = async () => {
      for (const v of CONTROL_PLANES) if ((await lab.sh(v, `ip -4 -o addr show | grep -q ' ${VIP}/'`)).code === 0) return v;
      return undefined;
    };
    expect(await holder()).toBe(CP); // the highest priority holds it
    await ok(lab.cmd("link", CP, "eth0", "down"), `lab link ${CP} eth0 down`);
    try {
      const t0 = Date.now();
      await waitFor(async () => ((await readyz()).stdout === "ok" ? true : undefined), 300, `the API on ${VIP} without ${CP}`);
      figures.vipFailoverSeconds = seconds(t0);
      const now = await holder();
      expect(CONTROL_PLANES.filter((v) => v !== CP)).toContain(now);
      // A write through the VIP: the remaining two etcd members keep a quorum.
      expect(await lab.out(now!, `kubectl --kubeconfig /etc/kubernetes/admin.conf create configmap failover-${Date.now()} --from-literal=at=now -o name`)).toMatch(/^configmap\//);
    } finally {
      await ok(lab.cmd("link", CP, "eth0", "up"), `lab link ${CP} eth0 up`);
    }
  });
});
