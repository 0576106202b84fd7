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
// plane and one worker, then a second worker added (a bigger cluster does not fit two
// cores under TCG: README). Calico cannot be built here: the lab's pod network is the
// reference CNI plugins (bridge + host-local, from the kubernetes-cni package), one pod
// range per node with a route to the other nodes, written by this test, not by DebVisor.
// The same stack has a one-node Ceph cluster on container host n1 (profile storage): the
// cluster objects of Ceph CSI (fed by its fsid, monitors and client keys) and of ZFS
// LocalPV go through the Kubernetes provider (pulumi-resource-kubernetes, built by
// `npm run toolchain:kubernetes`) to the live API server, with the charts switched off
// (neither charts nor images can be had here).
const STACK = "vm-kubernetes";
const ENV = { PULUMI_CONFIG_PASSPHRASE: "debvisor-vm-kubernetes", DEBVISOR_SKIP_BUILD: "1" };
const configFile = join(ROOT, `Pulumi.${STACK}.yaml`);
// DEBVISOR_K8S_HA=1: three control planes behind a keepalived VIP, then a worker added
// (four nodes: 3 + 1), and the VIP's failover.
const HA = process.env.DEBVISOR_K8S_HA === "1";
const VMS = HA ? ["v1", "v2", "v3"] : ["v1", "v2"];
const CONTROL_PLANES = HA ? VMS : ["v1"];
const CP = "v1";
const WORKER = VMS[VMS.length - 1];
/** The worker added to the running cluster by the last test. */
const EXTRA = `v${VMS.length + 1}`;
const CEPH_HOST = "n1";
const CEPH = { publicNetwork: "10.213.0.0/24", poolSize: 1, monDataAvailWarnPercent: 5 };
let members = [...VMS];
let repoKey = "";
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

function cluster(key: string, vms: readonly string[]): unknown {
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
        // The cluster objects through the provider, without their charts; a ZFS LocalPV class too.
        charts: false, csi: { zfsPools: ["tank"] },
      },
    },
    nodes: [
      {
        name: CEPH_HOST, address: "10.213.0.11", hostKeyFile: `${LAB_DIR}/hostkeys/${CEPH_HOST}.pub`, profile: "storage",
        storage: { ceph: CEPH, osds: [`/dev/disk/by-id/ata-LABDISK_LAB-${CEPH_HOST}-d1`] },
      },
      ...vms.map((name) => ({
        name, address: vmAddress(Number(name.slice(1))), hostKeyFile: `${LAB_DIR}/hostkeys/${name}.pub`,
        kubernetes: { role: CONTROL_PLANES.includes(name) ? "controlPlane" : "worker" },
      })),
    ],
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
    return members.every((v) => m[v]) ? (m as Record<string, string>) : undefined;
  }, 600, "every node has a pod range");
  for (const v of members) {
    const conf = {
      cniVersion: "1.0.0", name: "lab",
      plugins: [
        { type: "bridge", bridge: "cni0", isGateway: true, ipMasq: true, hairpinMode: true, ipam: { type: "host-local", ranges: [[{ subnet: ranges[v] }]], routes: [{ dst: "0.0.0.0/0" }] } },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    };
    await ok(lab.sh(v, "mkdir -p /etc/cni/net.d && cat >/etc/cni/net.d/10-lab.conflist", JSON.stringify(conf, null, 2)), `lab CNI on ${v}`);
    for (const w of members) if (w !== v) await lab.out(v, `ip route replace ${ranges[w]} via ${vmAddress(Number(w.slice(1)))}`);
  }
}

describe.sequential("VM tier: Kubernetes (kubeadm init/join) from an offline apt repository and registry", () => {
  beforeAll(async () => {
    await ok(run("bash", ["scripts/setup.sh"]), "npm run setup");
    await ok(run("npm", ["run", "--silent", "build"]), "npm run build");
    // The artifacts, built offline and cached outside the repo (about 20 minutes the first
    // time on two cores, well under a second when nothing changed).
    await ok(run("bash", ["scripts/toolchain/kubernetes/build.sh"]), "npm run toolchain:kubernetes");
    // A trixie container host with a disk for the one-node Ceph cluster, kept when the fleet
    // has one (made fresh), else the fleet is started anew.
    const fleet = labJson();
    const hosts = fleet?.hosts.filter((h) => h.kind !== "vm") ?? [];
    if (fleet?.release === "trixie" && hosts.length >= 1 && hosts[0].disks.length >= 1) {
      await ok(lab.cmd("reset", CEPH_HOST), `lab reset ${CEPH_HOST}`);
    } else {
      if (fleet !== undefined) await ok(lab.cmd("down"), "lab down");
      await ok(lab.cmd("up", "--hosts", "1", "--release", "trixie", "--disks", "1:10G"), "lab up (one trixie host with a disk)");
    }
    await ok(run("bash", ["-c", `d=$(losetup -j ${LAB_DIR}/disks/${CEPH_HOST}-d1.img -O NAME -n); blockdev --setrw $d; wipefs -qaf $d; dd if=/dev/zero of=$d bs=1M count=32 oflag=direct status=none`]), `blank ${CEPH_HOST}-d1`);
    // Trixie VMs (kubelet needs containerd 1.7: trixie's), two vCPUs each (kubeadm's
    // control-plane minimum): the cluster's and the worker added at the end.
    const up = await vmsUp(["--release", "trixie", "--vms", String(VMS.length + 1), "--vm-memory", HA ? "2560" : "3072", "--vm-cpus", "2"]);
    restore = up.restore;
    figures.labUpSeconds = Math.round(up.seconds);
    // Served on the lab bridge as an air-gapped site would: registry and signed apt repository.
    await ok(lab.cmd("kubernetes", "up"), "lab kubernetes up (registry and apt repository)");
    const key = await (await fetch(`${REPO}Release.key`)).text();
    await pulumi.run("stack", "rm", "--yes", "--force");
    await ok(pulumi.run("stack", "init"), `pulumi stack init ${STACK}`);
    repoKey = key;
    write(cluster(key, members));
  });
  afterAll(async () => {
    recordFigures("kubernetes", figures);
    if (process.env.DEBVISOR_VM_KEEP !== "1") {
      await pulumi.run("stack", "rm", "--yes", "--force");
      rmSync(configFile, { force: true });
    }
    await restore();
  });

  it("up: packages from the lab's signed repository, kubeadm init on v1, the others join; with the lab's pod network every node is Ready", async () => {
    let t0 = Date.now();
    await ok(pulumi.up(), "first pulumi up");
    figures.firstUpSeconds = seconds(t0);
    t0 = Date.now();
    await labPodNetwork();
    const ready = await waitFor(async () => {
      const out = await kubectl("get nodes --no-headers");
      const lines = out.split("\n").filter(Boolean);
      return lines.length === VMS.length && lines.every((l) => / Ready /.test(l)) ? out : undefined;
    }, 900, "every node Ready");
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

  it("through the Kubernetes provider: Ceph CSI's namespaces, cluster list, client Secrets and StorageClasses from n1's Ceph cluster, ZFS LocalPV's StorageClass, no chart", async () => {
    const fsid = await lab.out(CEPH_HOST, "ceph fsid");
    const keys = { rbd: await lab.out(CEPH_HOST, "ceph auth print-key client.kubernetes"), cephfs: await lab.out(CEPH_HOST, "ceph auth print-key client.kubernetes-cephfs") };
    expect(fsid).toMatch(/^[0-9a-f-]{36}$/);
    const get = async (what: string) => JSON.parse(await kubectl(`get ${what} -o json`));
    const decode = (data: Record<string, string>) => Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
    for (const [ns, secret, user] of [["ceph-csi-rbd", "csi-rbd-secret", "rbd"], ["ceph-csi-cephfs", "csi-cephfs-secret", "cephfs"]] as const) {
      const n = await get(`namespace ${ns}`);
      expect(n.metadata.labels).toMatchObject({ "app.kubernetes.io/managed-by": "debvisor", "pod-security.kubernetes.io/enforce": "privileged" });
      const list = JSON.parse((await get(`-n ${ns} configmap ceph-csi-config`)).data["config.json"]);
      expect(list).toHaveLength(1);
      expect(list[0]).toMatchObject({ clusterID: fsid, monitors: ["10.213.0.11:6789"] });
      const data = decode((await get(`-n ${ns} secret ${secret}`)).data);
      const id = user === "rbd" ? "kubernetes" : "kubernetes-cephfs";
      expect(data).toEqual(user === "rbd" ? { userID: id, userKey: keys.rbd } : { userID: id, userKey: keys.cephfs, adminID: id, adminKey: keys.cephfs });
    }
    const classes = Object.fromEntries((await get("storageclass")).items.map((c: any) => [c.metadata.name, c]));
    expect(Object.keys(classes).sort()).toEqual(["ceph-cephfs", "ceph-rbd-rbd", "zfs-tank"]);
    expect(classes["ceph-rbd-rbd"]).toMatchObject({ provisioner: "rbd.csi.ceph.com", reclaimPolicy: "Retain", parameters: { clusterID: fsid, pool: "rbd" } });
    expect(classes["ceph-rbd-rbd"].metadata.annotations["storageclass.kubernetes.io/is-default-class"]).toBe("true");
    expect(classes["ceph-cephfs"]).toMatchObject({ provisioner: "cephfs.csi.ceph.com", parameters: { clusterID: fsid, fsName: "cephfs" } });
    expect(classes["zfs-tank"]).toMatchObject({ provisioner: "zfs.csi.openebs.io", volumeBindingMode: "WaitForFirstConsumer", parameters: { poolname: "tank" } });
    // Made by the engine through one provider on the cluster's kubeconfig, under the add-ons component; charts off: no release.
    const resources: { type: string; urn: string; parent?: string; provider?: string }[] = JSON.parse((await ok(pulumi.run("stack", "export"), "stack export")).stdout).deployment.resources;
    const objects = resources.filter((r) => r.type.startsWith("kubernetes:"));
    expect(objects.map((r) => r.type).sort()).toEqual([
      ...Array(2).fill("kubernetes:core/v1:ConfigMap"), ...Array(2).fill("kubernetes:core/v1:Namespace"), ...Array(2).fill("kubernetes:core/v1:Secret"), ...Array(3).fill("kubernetes:storage.k8s.io/v1:StorageClass"),
    ]);
    const providers = resources.filter((r) => r.type === "pulumi:providers:kubernetes");
    expect(providers).toHaveLength(1);
    for (const o of objects) {
      expect(o.provider?.startsWith(`${providers[0].urn}::`), o.urn).toBe(true);
      expect(o.parent, o.urn).toMatch(/[:$]debvisor:kubernetes:KubernetesAddons::[a-z0-9-]+-k8s-addons$/);
    }
  });

  it("a second up runs no step on any node, and a preview after it has no change", async () => {
    const hosts = [CEPH_HOST, ...VMS];
    const before = await Promise.all(hosts.map((v) => lab.stepsRun(v)));
    const t0 = Date.now();
    await ok(pulumi.up(), "second pulumi up");
    figures.secondUpSeconds = seconds(t0);
    expect(await Promise.all(hosts.map((v) => lab.stepsRun(v)))).toEqual(before);
    // The cluster objects too: the provider reads them back from the API server.
    await ok(pulumi.run("preview", "--expect-no-changes", "--non-interactive"), "preview --expect-no-changes");
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
    // The Ceph CSI client key went into a Kubernetes Secret through the provider: secret in state too.
    const cephKey = await lab.out(CEPH_HOST, "ceph auth print-key client.kubernetes");
    expect(secretState).toContain(cephKey);
    expect(state).not.toContain(cephKey);
    expect(state).not.toContain(Buffer.from(cephKey).toString("base64"));
  });

  it("adding a worker: the preview creates only its own resources and steps, the up runs a step on no other node, and it joins and is Ready", async () => {
    const others = [CEPH_HOST, ...VMS];
    const before = await Promise.all(others.map((h) => lab.stepsRun(h)));
    members = [...VMS, EXTRA];
    write(cluster(repoKey, members));
    const preview = await ok(pulumi.run("preview", "--json", "--non-interactive"), `preview with ${EXTRA}`);
    const changed: string[] = (JSON.parse(preview.stdout).steps ?? []).filter((s: { op: string }) => s.op !== "same" && s.op !== "read")
      .map((s: { op: string; urn: string }) => `${s.op} ${s.urn.split("::").pop()}`);
    // Its node, layers and steps, its token step (on the first control plane) and its join: all creates.
    expect(changed.filter((c) => !new RegExp(`^create [a-z0-9-]*-(${EXTRA}(-.*)?|k8s-(token|join)-${EXTRA})$`).test(c))).toEqual([]);
    expect(changed).toEqual(expect.arrayContaining([`create debvisor-k8s-token-${EXTRA}`, `create debvisor-k8s-join-${EXTRA}`]));
    const t0 = Date.now();
    await ok(pulumi.up(), `up with ${EXTRA}`);
    figures.addWorkerUpSeconds = seconds(t0);
    await labPodNetwork();
    await waitFor(async () => {
      const lines = (await kubectl("get nodes --no-headers")).split("\n").filter(Boolean);
      return lines.length === members.length && lines.every((l) => / Ready /.test(l)) ? true : undefined;
    }, 600, `${EXTRA} Ready`);
    figures.addWorkerReadySeconds = seconds(t0);
    // On the first control plane only the new node's token step ran; nothing anywhere else.
    const ran = await Promise.all(others.map((h) => lab.stepsRun(h)));
    expect(ran).toEqual(before.map((n, i) => (others[i] === CP ? n + 1 : n)));
    expect(await lab.out(CP, "journalctl -q -t debvisor -o cat --no-pager | grep '^step ' | tail -n1")).toBe(`step debvisor-k8s-token-${EXTRA} start`);
  });
  it.runIf(HA)("the API answers on the VIP with the first control plane's VM stopped (its QEMU process paused)", async () => {
    const readyz = () => run("curl", ["-sk", "--max-time", "5", `https://${VIP}:6443/readyz`]);
    expect((await readyz()).stdout).toBe("ok");
    const holder = async (among: readonly string[]) => {
      for (const v of among) if ((await lab.sh(v, `ip -4 -o addr show | grep -q ' ${VIP}/'`)).code === 0) return v;
      return undefined;
    };
    expect(await holder(CONTROL_PLANES)).toBe(CP); // the highest priority holds it
    const pid = Number((await ok(lab.cmd("status"), "lab status")).stdout.match(new RegExp(`^${CP}\\s.*QEMU pid (\\d+)`, "m"))?.[1]);
    expect(pid).toBeGreaterThan(1);
    process.kill(pid, "SIGSTOP");
    try {
      const t0 = Date.now();
      await waitFor(async () => ((await readyz()).stdout === "ok" ? true : undefined), 300, `the API on ${VIP} without ${CP}`);
      figures.vipFailoverSeconds = seconds(t0);
      // (the stopped VM answers nothing: ask the others)
      const now = await holder(CONTROL_PLANES.filter((v) => v !== CP));
      expect(now).toBeDefined();
      // A write through the VIP: the remaining two etcd members keep a quorum.
      expect(await lab.out(now!, `kubectl --kubeconfig /etc/kubernetes/admin.conf create configmap failover-${Date.now()} --from-literal=at=now -o name`)).toMatch(/^configmap\//);
    } finally {
      process.kill(pid, "SIGCONT");
    }
  });
});
