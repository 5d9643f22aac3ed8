import type { Metadata } from "next";
import type { ReactNode } from "react";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "Troupe console", template: "%s · Troupe" },
  description: "Traces, agents, usage and tenants of your Troupe runtime",
};

/** The document shell of every page. */
export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
