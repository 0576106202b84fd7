import { PolicyPack, type EnforcementLevel } from "@pulumi/policy";
import { isSecretPayload, ruleConfig, RULES } from "./rules.js";

/**
 * DebVisor's policy pack. Run with
 *   pulumi preview --policy-pack policy [--policy-pack-config policy/config/production.json]
 * Every rule is mandatory unless the config file says otherwise; rule settings (such as
 * the minimum source prefix of the firewall rule) come from the same file. See README.md.
 */
const DEFAULT_LEVEL: EnforcementLevel = "mandatory";

new PolicyPack("debvisor", {
  enforcementLevel: DEFAULT_LEVEL,
  policies: RULES.map((rule) => ({
    name: rule.name,
    description: rule.description,
    enforcementLevel: DEFAULT_LEVEL,
    ...(rule.settings ? { configSchema: { properties: rule.settings as any } } : {}),
    validateResource: (args, reportViolation) => {
      if (args.type !== rule.type) return;
      const given = rule.settings ? args.getConfig<Record<string, unknown>>() : {};
      const ctx = {
        name: args.name,
        config: ruleConfig(rule, given),
        secretPayload: isSecretPayload(args.props, args.opts.additionalSecretOutputs),
      };
      for (const message of rule.check(args.props, ctx)) reportViolation(message);
    },
  })),
});
