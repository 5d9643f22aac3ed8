import { describe, expect, it } from "vitest";
import { tenantInView, tenantSwitchHref } from "./tenant-in-view";

describe("the tenant a page shows", () => {
  it("is the tenant of an operator tenant page, whatever the first tenant is", () => {
    expect(tenantInView("/operator/tenants/globex", null, "acme")).toBe("globex");
    expect(tenantInView("/operator/tenants/a%20b", "acme", "acme")).toBe("a b");
  });

  it("is none on the all-tenants list, the parameter or the first tenant elsewhere", () => {
    expect(tenantInView("/operator", null, "acme")).toBe("");
    expect(tenantInView("/traces", "globex", "acme")).toBe("globex");
    expect(tenantInView("/", null, "acme")).toBe("acme");
  });

  it("switches to the same kind of page for the chosen tenant", () => {
    const p = new URLSearchParams("tenant=acme&range=6h&cursor=abc&span=1");
    expect(tenantSwitchHref("/operator/tenants/acme", p, "globex")).toBe("/operator/tenants/globex");
    expect(tenantSwitchHref("/traces", p, "globex")).toBe("/traces?tenant=globex&range=6h");
    expect(tenantSwitchHref("/traces/0123", p, "globex")).toBe("/traces?tenant=globex&range=6h");
    expect(tenantSwitchHref("/operator", new URLSearchParams(), "globex")).toBe("/?tenant=globex");
  });
});
