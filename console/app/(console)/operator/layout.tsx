import type { ReactNode } from "react";
import { requireAdmin } from "../../../lib/session/server-session";

/** Operator pages are for the admin key only: a tenant session gets the 403 page (status 403). */
export default async function OperatorLayout({ children }: { children: ReactNode }) {
  await requireAdmin();
  return children;
}
