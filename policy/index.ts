import { PolicyPack } from "@pulumi/policy";
import { RULES } from "./rules.js";

// Run with: pulumi preview --policy-pack policy
new PolicyPack("debvisor", {
  policies: RULES.map((rule) => ({
    name: rule.name,
    description: rule.description,
    enforcementLevel: "mandatory" as const,
    validateResource: (args, reportViolation) => {
      if (args.type === rule.type) for (const message of rule.check(args.props)) reportViolation(message);
    },
  })),
});
