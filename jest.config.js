/** Jest runs TypeScript through SWC (about twice as fast as ts-jest); `npm run typecheck` checks types. */
const swcConfig = {
  jsc: {
    target: 'es2022',
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
    keepClassNames: true,
  },
  module: { type: 'commonjs' },
};

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test', '<rootDir>/scripts'],
  testMatch: ['**/*.spec.ts'],
  // test/ops needs Debian tools (promtool, prometheus): its own tier, `npm run test:ops`.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/ops/'],
  transform: { '^.+\\.ts$': ['@swc/jest', swcConfig] },
  moduleNameMapper: {
    '^@switchyard/observability/tracing$': '<rootDir>/libs/observability/src/tracing',
    '^@switchyard/(.*)$': '<rootDir>/libs/$1/src',
  },
  testTimeout: 60000,
  maxWorkers: 2,
  // Prints the reliability ledger table (test/reliability) at the end of a run that has rows.
  reporters: ['default', '<rootDir>/test/reliability/support/table-reporter.js'],
};
