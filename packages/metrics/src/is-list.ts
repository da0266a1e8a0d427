/**
 * Whether a value is an array. Unlike `Array.isArray` it does not narrow a readonly array type to
 * `any[]`, so runtime guards on typed parameters keep their element types.
 */
export function isList(value: unknown): boolean {
  return Array.isArray(value);
}
