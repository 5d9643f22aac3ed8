import tseslint from "typescript-eslint";
import importX from "eslint-plugin-import-x";

// Import rules are the architecture's guard rails (../shared/STYLE.md): no cycles, no reaching into
// another package's src/, no default exports from library code.
export default tseslint.config(
  { ignores: ["**/node_modules/**", "**/dist/**", "console/.next/**", "console/next-env.d.ts", "test-results/**", "bench-results/**"] },
  ...tseslint.configs.recommended,
  {
    plugins: { "import-x": importX },
    settings: { "import-x/resolver": { node: true } },
    rules: {
      "import-x/no-cycle": ["error", { ignoreExternal: true }],
      "import-x/no-relative-packages": "error",
      "import-x/no-self-import": "error",
      "no-restricted-imports": ["error", { patterns: [
        { group: ["@troupe/*/src", "@troupe/*/src/*", "@troupe/*/dist/*"], message: "Import a package through its index (its package name), never its files." },
        { group: ["**/runtime/src/*", "**/collector/src/*", "**/console/*"], message: "Cross-package imports go through the package name." },
      ] }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  {
    files: ["runtime/src/**/*.ts", "collector/src/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: { "import-x/no-default-export": "error", "no-restricted-syntax": ["error", { selector: "ExportAllDeclaration", message: "Use named exports in index.ts, never export *." }] },
  },
  {
    // Libraries never read process.env; entry points and config loaders do.
    files: ["runtime/src/**/*.ts", "collector/src/**/*.ts"],
    ignores: ["**/*.test.ts", "**/config.ts", "**/cli/**", "**/main.ts"],
    rules: { "no-restricted-properties": ["error", { object: "process", property: "env", message: "Libraries never read process.env: take the value as a parameter." }] },
  },
);
