// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Method packages may depend on @mtl/core only; the apps in examples/ compose them. */
const methodPackages = ['forkmerge', 'group-update', 'transference', 'conal', 'weighting', 'datasets', 'metrics'];

export default tseslint.config(
  { ignores: ['**/dist/**', '**/.runs/**', '**/node_modules/**', '**/src/generated/**', '**/.turbo/**', '**/coverage/**', 'bench/reference/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
    },
  },
  ...methodPackages.map((pkg) => ({
    files: [`packages/${pkg}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: methodPackages.filter((p) => p !== pkg).map((p) => `@mtl/${p}`),
              message: 'A method package depends on @mtl/core only; combine packages in examples/.',
            },
          ],
        },
      ],
    },
  })),
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
