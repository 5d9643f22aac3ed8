import tseslint from "typescript-eslint";
import importX from "eslint-plugin-import-x";
import { troupePlugin } from "./eslint-rules/no-import-cycle.mjs";

// Import rules are the architecture's guard rails (../shared/STYLE.md): no cycles, no reaching into
// another package's src/, no default exports from library code.

// Every package's imports pass through these; the blocks below add to them (a later block's
// no-restricted-imports replaces an earlier one's, so each repeats these).
const packageBoundaries = [
  { group: ["@troupe/*/src", "@troupe/*/src/*", "@troupe/*/dist/*"], message: "Import a package through its index (its package name), never its files." },
  { group: ["**/contract/src/*", "**/runtime/src/*", "**/collector/src/*", "**/examples/src/*", "**/console/*"], message: "Cross-package imports go through the package name." },
];

// One style for private members: ECMAScript #private (private at run time too, as the collector
// always had it), never TypeScript's `private`. `private constructor` stays (there is no #constructor).
// A later block's no-restricted-syntax replaces an earlier one's, so each block that sets it repeats these.
const privateMemberMessage = "Use an ECMAScript #private member, not TypeScript's `private` (one style for private members, see CONTRIBUTING.md).";
const privateMemberStyle = [
  { selector: "PropertyDefinition[accessibility='private']", message: privateMemberMessage },
  { selector: "MethodDefinition[accessibility='private'][kind!='constructor']", message: privateMemberMessage },
  { selector: "TSParameterProperty[accessibility='private']", message: privateMemberMessage },
];

export default tseslint.config(
  { ignores: ["**/node_modules/**", "**/dist/**", "console/.next/**", "console/next-env.d.ts", "test-results/**", "bench-results/**"] },
  ...tseslint.configs.recommended,
  {
    plugins: { "import-x": importX, troupe: troupePlugin },
    settings: { "import-x/resolver": { node: true } },
    rules: {
      "import-x/no-cycle": ["error", { ignoreExternal: true }],
      // import-x/no-cycle skips type-only imports; a cycle through types ties two files together too.
      "troupe/no-import-cycle": "error",
      "import-x/no-relative-packages": "error",
      "import-x/no-self-import": "error",
      "no-restricted-imports": ["error", { patterns: packageBoundaries }],
      "no-restricted-syntax": ["error", ...privateMemberStyle],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  {
    // The collector and the runtime share only the contract: the collector must not pull in the
    // runtime (and with it NATS, openai and pg). Its tests may use the runtime to produce real spans.
    files: ["collector/src/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: [
      ...packageBoundaries,
      { group: ["@troupe/runtime", "@troupe/runtime/*"], message: "The collector depends on @troupe/contract, not the runtime: move what both sides need into contract/." },
    ] }] },
  },
  {
    // The contract stays small enough for every program (and the browser) to load: zod and its own files only.
    files: ["contract/src/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: [
      ...packageBoundaries,
      { regex: "^(?!zod$|\\.\\.?/)", message: "@troupe/contract imports nothing but zod and its own files: no @troupe/* package, no other dependency, no Node built-in." },
    ] }] },
  },
  {
    files: ["contract/src/**/*.ts", "runtime/src/**/*.ts", "collector/src/**/*.ts", "examples/src/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: { "import-x/no-default-export": "error", "no-restricted-syntax": ["error", { selector: "ExportAllDeclaration", message: "Use named exports in index.ts, never export *." }, ...privateMemberStyle] },
  },
  {
    // Libraries never read process.env; entry points and config loaders do.
    files: ["contract/src/**/*.ts", "runtime/src/**/*.ts", "collector/src/**/*.ts", "examples/src/**/*.ts"],
    ignores: ["**/*.test.ts", "**/config.ts", "**/cli/**", "**/main.ts"],
    rules: { "no-restricted-properties": ["error", { object: "process", property: "env", message: "Libraries never read process.env: take the value as a parameter." }] },
  },
);
