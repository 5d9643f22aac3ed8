// Next.js configuration of the Troupe console. Static security headers live here; the CSP (with a
// per-request nonce) is set by proxy.ts. No network access at build: system fonts only, no telemetry.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** @type {import('next').NextConfig} */
const nextConfig = {
  poweredByHeader: false,
  reactStrictMode: true,
  // The workspace's node_modules sit at the repository root.
  turbopack: { root: join(here, "..") },
  outputFileTracingRoot: join(here, ".."),
  experimental: { authInterrupts: true },
  // Where this build lives, so the help pages can read the repository's README beside it.
  env: { TROUPE_CONSOLE_DIR: here },
  async headers() {
    return [
      {
        source: "/:path*",
        headers: [
          { key: "X-Frame-Options", value: "DENY" },
          { key: "X-Content-Type-Options", value: "nosniff" },
          { key: "Referrer-Policy", value: "strict-origin-when-cross-origin" },
          { key: "Permissions-Policy", value: "camera=(), microphone=(), geolocation=(), interest-cohort=()" },
          { key: "Cross-Origin-Opener-Policy", value: "same-origin" },
        ],
      },
    ];
  },
};

export default nextConfig;
