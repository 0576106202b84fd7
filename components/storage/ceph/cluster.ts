import * as pulumi from "@pulumi/pulumi";
import { RemoteStep, parseFacts, type ResolvedHost } from "../../host/index.js";
import { rbdPoolsOf, type CephClusterSettings } from "../schema.js";
import { CEPH_NODE_SECRETS, cephBootstrapStep, cephNodeParams, cephPoolsStep, renderCephConf, renderMons, type CephMember } from "./steps.js";

/** One node of a Ceph cluster: how to reach it, what it runs, what it waits for. */
export interface CephClusterNode extends CephMember {
  host: ResolvedHost;
  /** What its step waits for (the node's storage layer: Ceph's packages installed). */
  after?: pulumi.Resource;
}

export interface CephClusterArgs {
  settings: CephClusterSettings;
  /** The members, in a stable order: the first monitor makes the cluster's identity. */
  nodes: CephClusterNode[];
  /** Seconds the pools step waits for HEALTH_OK. @default 300 */
  healthWaitSeconds?: number;
}

/** What other layers (Kubernetes' CSI drivers) and the stack outputs get from the cluster. */
export interface CephOutputs {
  fsid: pulumi.Output<string>;
  /** Monitor addresses (`address:6789`). */
  monitors: pulumi.Output<string[]>;
  /** Keys of the CSI clients (`client.kubernetes`, `client.kubernetes-cephfs`), secret. */
  clientKeys: pulumi.Output<Record<string, string>>;
  /** CephFS name and the CSI subvolume group (undefined: no CephFS). */
  cephfs?: { name: string; subvolumeGroup: string };
  rbdPools: string[];
  osdNodes: string[];
}

/**
 * A Ceph cluster over DebVisor nodes: the identity (fsid, cephx keys) made once on the
 * first monitor and handed to the others as secrets, each node's daemons (step
 * `<name>-<node>`), then the file system, pools and client keys (`<name>-pools`).
 * Nothing here deletes anything on a host: a destroy, or a node, disk or pool leaving
 * the config, leaves its daemons and data as they are.
 */
export class CephCluster extends pulumi.ComponentResource implements CephOutputs {
  readonly fsid: pulumi.Output<string>;
  readonly monitors: pulumi.Output<string[]>;
  readonly clientKeys: pulumi.Output<Record<string, string>>;
  readonly cephfs?: { name: string; subvolumeGroup: string };
  readonly rbdPools: string[];
  /** The nodes with OSDs (a stack output: the next run refuses to drop one that was not drained). */
  readonly osdNodes: string[];

  constructor(name: string, args: CephClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("debvisor:storage:CephCluster", name, {}, opts);
    const { settings, nodes } = args;
    const mons = nodes.filter((n) => n.roles.includes("mon"));
    if (mons.length === 0) throw new Error(`${name}: no node has the mon role`);
    const first = mons[0];

    const bootstrap = new RemoteStep(`${name}-bootstrap`, {
      host: first.host, ...cephBootstrapStep(), secretOutput: true, showStderr: true, timeoutSeconds: 120,
    }, { parent: this, dependsOn: first.after ? [first.after] : [] });
    const identity = bootstrap.stdout.apply(parseFacts);
    const secretOf = (fact: string) => pulumi.secret(identity.apply((f) => {
      if (!f[fact]) throw new Error(`${name}-bootstrap reported no ${fact}`);
      return f[fact];
    }));
    const secrets: Record<(typeof CEPH_NODE_SECRETS)[number], pulumi.Output<string>> = {
      DV_CEPH_FSID: secretOf("ceph.fsid"),
      DV_CEPH_KEY_MON: secretOf("ceph.key.mon"),
      DV_CEPH_KEY_ADMIN: secretOf("ceph.key.admin"),
      DV_CEPH_KEY_BOOTSTRAP_OSD: secretOf("ceph.key.bootstrap-osd"),
    };

    const conf = renderCephConf(settings, nodes);
    const initialMons = renderMons(nodes);
    const nodeSteps = nodes.map((n) => new RemoteStep(`${name}-${n.id}`, {
      host: n.host, script: "storage/ceph/node.sh", params: cephNodeParams(n, conf, initialMons), secretParams: secrets, showStderr: true, timeoutSeconds: 1500,
    }, { parent: this, dependsOn: [bootstrap.command, ...(n.after ? [n.after] : [])] }));

    this.osdNodes = nodes.filter((n) => n.osds.length > 0).map((n) => n.id);
    const pools = new RemoteStep(`${name}-pools`, {
      host: first.host, ...cephPoolsStep(settings, this.osdNodes.length, args.healthWaitSeconds), secretOutput: true, showStderr: true, timeoutSeconds: 900,
    }, { parent: this, dependsOn: nodeSteps.map((s) => s.command) });
    const poolFacts = pools.stdout.apply(parseFacts);

    // The fsid is no secret (it is in every ceph.conf and `ceph -s`).
    this.fsid = pulumi.unsecret(secrets.DV_CEPH_FSID);
    this.monitors = pulumi.output(mons.map((m) => `${m.address}:6789`));
    this.clientKeys = pulumi.secret(poolFacts.apply((f) => Object.fromEntries(
      Object.entries(f).filter(([k]) => k.startsWith("ceph.key.client.")).map(([k, v]) => [k.slice("ceph.key.".length), v]),
    )));
    this.cephfs = settings.cephfs === false ? undefined : { name: settings.cephfs ?? "cephfs", subvolumeGroup: "csi" };
    this.rbdPools = rbdPoolsOf(settings).map((p) => p.name);
    this.registerOutputs({ fsid: this.fsid, monitors: this.monitors, clientKeys: this.clientKeys });
  }
}
