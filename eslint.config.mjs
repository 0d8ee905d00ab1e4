import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

// Module boundaries by tag: services never import each other; contracts and domain libs stay free of
// infrastructure; tools may use anything shared but not services.
export default [
  { ignores: ['**/node_modules/**', '**/dist/**', 'models/**', 'docs/**', '**/.checkpoints/**', 'tmp/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            { sourceTag: 'type:contract', onlyDependOnLibsWithTags: ['type:contract', 'type:domain'] },
            { sourceTag: 'type:domain', onlyDependOnLibsWithTags: ['type:domain', 'type:contract', 'type:infra'] },
            { sourceTag: 'type:infra', onlyDependOnLibsWithTags: ['type:infra', 'type:domain', 'type:contract'] },
            { sourceTag: 'type:service', onlyDependOnLibsWithTags: ['type:infra', 'type:domain', 'type:contract'] },
            // the page is a client of the public API only: no workspace code in it
            { sourceTag: 'type:frontend', onlyDependOnLibsWithTags: [] },
            { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:infra', 'type:domain', 'type:contract', 'type:test'] },
          ],
        },
      ],
    },
  },
  {
    // tests read loosely-typed GraphQL responses
    files: ['**/test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
];
