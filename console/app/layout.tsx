import type { Metadata } from "next";
import { connection } from "next/server";
import type { ReactNode } from "react";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "Troupe console", template: "%s · Troupe" },
  description: "Traces, agents, usage and tenants of your Troupe runtime",
};

/**
 * The document shell of every page. Every page renders per request, the 404 page included: the
 * content-security policy's script nonce is new on each request (proxy.ts), and a page prerendered
 * at build time would carry scripts without it, which the browser blocks.
 */
export default async function RootLayout({ children }: { children: ReactNode }) {
  await connection();
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
